// The matrix product behind the CPU convolutions (NCHW and channels-last).
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <stdexcept>
#include <type_traits>

#include "kernels/cpu/sgemm.h"

namespace ember {

template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// c[M x N] (+)= a[M x K] x b[K x N]. float32 goes to sgemm.cpp's kernel when
// the product fills at least one 6x16 tile; a matrix times a contiguous
// vector (a squeeze-excitation's 1x1 maps, which sgemm would pad to 16
// columns) is a loop of dot products; float64 (the gradient checks), other
// narrow products and builds without AVX2 go to Eigen. A float32 epilogue
// (sgemm.h) runs on each block of c as sgemm finishes it, or on the whole
// of c after the other paths.
template <class T>
void gemm(int64_t M, int64_t N, int64_t K, MatrixView<const T> a, MatrixView<const T> b, MatrixView<T> c,
          bool accumulate, const SgemmEpilogue* epilogue = nullptr) {
  if constexpr (std::is_same_v<T, float>) {
    if (sgemm_available() && M >= 6 && N >= 16) return sgemm(M, N, K, a, b, c, accumulate, epilogue);
    if (epilogue) {
      gemm<T>(M, N, K, a, b, c, accumulate);
      return epilogue->run(epilogue->context, c.data, c.row_stride, 0, 0, M, N);
    }
  } else {
    if (epilogue) throw std::logic_error("gemm: an epilogue is for float32 products");
  }
  if (N == 1 && a.col_stride == 1 && b.row_stride == 1) {
    // A matrix times a contiguous vector (a convolution on a 1x1 map:
    // squeeze-and-excitation's two): one dot product per row, in vector
    // lanes. Eigen's product over runtime strides ran it element by element.
    for (int64_t i = 0; i < M; ++i) {
      const T* row = a.data + i * a.row_stride;
      T dot = 0;
#pragma omp simd reduction(+ : dot)
      for (int64_t k = 0; k < K; ++k) dot += row[k] * b.data[k];
      T& out = c.data[i * c.row_stride];
      out = accumulate ? out + dot : dot;
    }
    return;
  }
  using Strides = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;  // (row stride, column stride) for row-major
  Eigen::Map<const RowMat<T>, 0, Strides> am(a.data, M, K, Strides(a.row_stride, a.col_stride));
  Eigen::Map<const RowMat<T>, 0, Strides> bm(b.data, K, N, Strides(b.row_stride, b.col_stride));
  Eigen::Map<RowMat<T>, 0, Strides> cm(c.data, M, N, Strides(c.row_stride, c.col_stride));
  if (accumulate) {
    cm.noalias() += am * bm;
  } else {
    cm.noalias() = am * bm;
  }
}

}  // namespace ember
