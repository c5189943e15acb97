// CPU batched matrix product with Eigen. Each operand matrix may be row- or
// column-major (a transposed view needs no copy); Eigen maps the memory with
// the right storage order and runs its blocked GEMM. Batches are spread over
// threads when there are enough of them, else Eigen threads each product; a
// one-row product (which Eigen runs on one thread) is cut by columns.
// Cost: 2*M*N*K flops per batch entry.
#include <Eigen/Core>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/widen_16bit.h"

namespace ember {
namespace {

template <class T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ColMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
template <class M>
using StridedMap = Eigen::Map<const M, Eigen::Unaligned, Eigen::OuterStride<>>;

// A [rows, cols] matrix at p with strides (rs, cs), one of which is 1.
struct MatrixView {
  int64_t rows, cols, rs, cs;
  bool row_major() const { return cs == 1 && (rs >= cols || rows == 1); }
};

template <class T, class F>
void with_map(const T* p, const MatrixView& v, F&& f) {
  if (v.row_major()) {
    f(StridedMap<RowMajor<T>>(p, v.rows, v.cols, Eigen::OuterStride<>(std::max<int64_t>(v.rs, v.cols))));
  } else {
    f(StridedMap<ColMajor<T>>(p, v.rows, v.cols, Eigen::OuterStride<>(std::max<int64_t>(v.cs, v.rows))));
  }
}

template <class T>
void matmul_typed(const Tensor& out, const Tensor& a, const Tensor& b) {
  const int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  const T* pa = static_cast<const T*>(a.data_ptr());
  const T* pb = static_cast<const T*>(b.data_ptr());
  T* po = static_cast<T*>(out.data_ptr());
  MatrixView va{M, K, a.stride(1), a.stride(2)};
  MatrixView vb{K, N, b.stride(1), b.stride(2)};
  // Entry i of the batch, columns [n0, n0 + n) of its product.
  auto one = [&](int64_t i, int64_t n0, int64_t n) {
    Eigen::Map<RowMajor<T>> c(po + i * M * N, M, N);
    if (K == 0) {
      c.middleCols(n0, n).setZero();
      return;
    }
    with_map(pa + i * a.stride(0), va, [&](const auto& ma) {
      with_map(pb + i * b.stride(0), vb,
               [&](const auto& mb) { c.middleCols(n0, n).noalias() = ma * mb.middleCols(n0, n); });
    });
  };
  if (B >= cpu_threads() && B > 1) {
    parallel_for(B, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) one(i, 0, N);
    });
  } else if (M == 1 && N >= 64 && N * K >= (int64_t{1} << 18)) {
    // One row (a classifier at batch 1: [1, 1280] x [1280, 1000], 5 MB of
    // weights) is Eigen's matrix-vector product, which runs on one thread:
    // the columns are cut over the threads instead, each reading its share
    // of B.
    for (int64_t i = 0; i < B; ++i) {
      parallel_for((N + 15) / 16, 1, [&](int64_t p0, int64_t p1) {
        const int64_t n0 = p0 * 16;
        one(i, n0, std::min(N, p1 * 16) - n0);
      });
    }
  } else {
    for (int64_t i = 0; i < B; ++i) one(i, 0, N);
  }
}

}  // namespace

void CpuBackend::matmul(const Tensor& out, const Tensor& a, const Tensor& b) {
  if (any_16bit({out, a, b})) {
    WidenedOutput y(out);
    matmul(y.work(), widened(a), widened(b));
    return y.commit();
  }
  EMBER_CHECK(a.stride(2) == 1 || a.stride(1) == 1, "matmul", "operand a must be row- or column-major");
  EMBER_CHECK(b.stride(2) == 1 || b.stride(1) == 1, "matmul", "operand b must be row- or column-major");
  dispatch_float_double(out.dtype(), "matmul", [&]<class T>() { matmul_typed<T>(out, a, b); });
}

}  // namespace ember
