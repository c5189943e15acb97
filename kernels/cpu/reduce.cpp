// CPU reductions over the middle dim of a contiguous [outer, reduce, inner]
// tensor. inner == 1 (reducing the last dims) walks each row; otherwise each
// of the `reduce` rows of length `inner` is folded into an accumulator row,
// which keeps the loads contiguous and vectorisable. Floats accumulate in
// double, integers in int64. Memory: each input element is read once.
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/strided_loop.h"
#include "kernels/elementwise_math.h"

namespace ember {
namespace {

template <class T>
using acc_t = std::conditional_t<std::is_floating_point_v<compute_t<T>>, double, int64_t>;

template <class A>
A reduce_init(ReduceOp op) {
  switch (op) {
    case ReduceOp::Max: return std::is_floating_point_v<A> ? -std::numeric_limits<A>::infinity()
                                                          : std::numeric_limits<A>::lowest();
    case ReduceOp::Min: return std::is_floating_point_v<A> ? std::numeric_limits<A>::infinity()
                                                          : std::numeric_limits<A>::max();
    default: return A(0);
  }
}

template <class A>
inline A reduce_step(ReduceOp op, A acc, A v) {
  switch (op) {
    case ReduceOp::Max: return math::maximum(acc, v);
    case ReduceOp::Min: return math::minimum(acc, v);
    default: return acc + v;
  }
}

template <class T>
void reduce_typed(const Tensor& out, const Tensor& in, ReduceOp op, int64_t outer, int64_t R, int64_t inner) {
  using A = acc_t<T>;
  const T* x = static_cast<const T*>(in.data_ptr());
  T* y = static_cast<T*>(out.data_ptr());
  const bool mean = op == ReduceOp::Mean;
  auto finish = [&](A acc) -> T {
    if (mean) return convert<T>(static_cast<double>(acc) / static_cast<double>(R));
    return convert<T>(acc);
  };
  if (inner == 1) {
    parallel_for(outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(R, 1)), [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) {
        const T* row = x + o * R;
        A acc = reduce_init<A>(op);
        if (op == ReduceOp::Sum || op == ReduceOp::Mean) {
          for (int64_t r = 0; r < R; ++r) acc += static_cast<A>(static_cast<compute_t<T>>(row[r]));
        } else {
          for (int64_t r = 0; r < R; ++r) acc = reduce_step(op, acc, static_cast<A>(static_cast<compute_t<T>>(row[r])));
        }
        y[o] = finish(acc);
      }
    });
    return;
  }
  // Parallel over (outer, inner-chunk) tiles so both shapes [big, R, small]
  // and [1, R, big] spread across threads.
  const int64_t chunk = 256;
  const int64_t chunks_per_outer = (inner + chunk - 1) / chunk;
  parallel_for(outer * chunks_per_outer, std::max<int64_t>(1, 8192 / std::max<int64_t>(R * chunk, 1)),
               [&](int64_t begin, int64_t end) {
                 std::vector<A> acc(chunk);
                 for (int64_t t = begin; t < end; ++t) {
                   int64_t o = t / chunks_per_outer;
                   int64_t i0 = (t % chunks_per_outer) * chunk;
                   int64_t len = std::min(chunk, inner - i0);
                   std::fill(acc.begin(), acc.begin() + len, reduce_init<A>(op));
                   for (int64_t r = 0; r < R; ++r) {
                     const T* row = x + (o * R + r) * inner + i0;
                     if (op == ReduceOp::Sum || op == ReduceOp::Mean) {
                       for (int64_t i = 0; i < len; ++i) acc[i] += static_cast<A>(static_cast<compute_t<T>>(row[i]));
                     } else {
                       for (int64_t i = 0; i < len; ++i) {
                         acc[i] = reduce_step(op, acc[i], static_cast<A>(static_cast<compute_t<T>>(row[i])));
                       }
                     }
                   }
                   for (int64_t i = 0; i < len; ++i) y[o * inner + i0 + i] = finish(acc[i]);
                 }
               });
}

template <class T>
void reduce_index_typed(const Tensor& values, const Tensor& indices, const Tensor& in, ReduceOp op,
                        int64_t outer, int64_t R, int64_t inner) {
  using C = compute_t<T>;
  const T* x = static_cast<const T*>(in.data_ptr());
  T* vals = values.defined() ? static_cast<T*>(values.data_ptr()) : nullptr;
  int64_t* idx = static_cast<int64_t*>(indices.data_ptr());
  const bool is_max = op == ReduceOp::Max;
  parallel_for(outer * inner, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      int64_t o = t / inner, i = t % inner;
      const T* p = x + o * R * inner + i;
      C best = static_cast<C>(p[0]);
      int64_t best_r = 0;
      for (int64_t r = 1; r < R && !math::is_nan(best); ++r) {
        C v = static_cast<C>(p[r * inner]);
        // NaN wins (as in torch), otherwise strictly better; ties keep the first.
        if (math::is_nan(v) || (is_max ? v > best : v < best)) {
          best = v;
          best_r = r;
        }
      }
      if (vals) vals[t] = convert<T>(best);
      idx[t] = best_r;
    }
  });
}

}  // namespace

void CpuBackend::reduce(const Tensor& out, const Tensor& in, ReduceOp op, int64_t outer, int64_t R, int64_t inner) {
  dispatch_dtype(in.dtype(), "reduce", [&]<class T>() {
    if constexpr (std::is_same_v<T, bool>) {
      fail("reduce", "bool tensors are reduced after conversion to int64");
    } else {
      reduce_typed<T>(out, in, op, outer, R, inner);
    }
  });
}

void CpuBackend::reduce_with_index(const Tensor& values, const Tensor& indices, const Tensor& in, ReduceOp op,
                                   int64_t outer, int64_t R, int64_t inner) {
  EMBER_CHECK(R > 0, "max/min", "cannot reduce an empty dimension");
  dispatch_dtype(in.dtype(), "reduce_with_index", [&]<class T>() {
    reduce_index_typed<T>(values, indices, in, op, outer, R, inner);
  });
}

}  // namespace ember
