// CUDA softmax and log-softmax over the middle dim of a contiguous
// [outer, D, inner] tensor, forward and backward, for float, double, half
// and bfloat16 (16-bit types compute in float).
//   forward:  one pass keeps a running maximum m and a running sum
//             s = sum exp(x - m), rescaled when m grows ("online softmax"),
//             so x is read twice (stats, then output) instead of three times;
//             partial (m, s) pairs merge as s1 e^(m1-M) + s2 e^(m2-M).
//             softmax = exp(x - m) / s, log_softmax = x - (m + log s). A row
//             of only -inf gives NaN, as on the CPU (which then uses m = 0).
//   backward: softmax     dx = y * (dy - sum(dy * y))
//             log_softmax dx = dy - exp(y) * sum(dy)
// Launch shapes:
// - inner == 1: one warp per row (8 rows per 256-thread block) when D <= 1024,
//   else one 512-thread block per row. Lanes read consecutive elements.
// - inner > 1: 2-D blocks of 256 threads over a tile of columns: bx = min(32,
//   inner rounded up to a power of 2) along inner, by = 256 / bx along D; the
//   by partial results of a column merge in shared memory, then the same
//   threads write the column.
// Memory traffic per element: forward reads x twice (the second time mostly
// from cache for rows that fit in it) and writes y once; backward reads dy
// and y twice and writes dx once.
#include <cmath>
#include <limits>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/reduce.cuh"

namespace ember {
namespace {

template <class A>
struct MaxSum {
  A m, s;
};

template <class A>
__device__ __forceinline__ MaxSum<A> empty_stats() {
  return {-std::numeric_limits<A>::infinity(), A(0)};
}

// Adds one value to running stats.
template <class A>
__device__ __forceinline__ void add_value(MaxSum<A>& st, A x) {
  if (x > st.m) {
    // The new maximum contributes exp(x - x): 1, or NaN for +inf (as exp(inf - inf) on the CPU).
    st.s = st.s * exp(st.m - x) + (isinf(x) ? std::numeric_limits<A>::quiet_NaN() : A(1));
    st.m = x;
  } else if (!(x == st.m && st.m == -std::numeric_limits<A>::infinity())) {
    st.s += exp(x - st.m);  // NaN stays NaN and poisons s, as on the CPU
  }
}

template <class A>
__device__ __forceinline__ MaxSum<A> merge_stats(MaxSum<A> a, MaxSum<A> b) {
  const A m = a.m > b.m ? a.m : b.m;
  if (m == -std::numeric_limits<A>::infinity()) return {m, a.s + b.s};
  return {m, a.s * exp(a.m - m) + b.s * exp(b.m - m)};
}

template <class A>
__device__ __forceinline__ MaxSum<A> warp_merge_stats(MaxSum<A> st) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    MaxSum<A> other{__shfl_xor_sync(kFullWarpMask, st.m, offset), __shfl_xor_sync(kFullWarpMask, st.s, offset)};
    st = merge_stats(st, other);
  }
  return st;
}

// The value every output of a row needs: for softmax 1/s (with the max), for
// log_softmax the log-sum-exp m + log s.
template <class A>
struct RowScale {
  A m, inv_s, lse;
};

template <class A>
__device__ __forceinline__ RowScale<A> row_scale(MaxSum<A> st) {
  const A m = st.m == -std::numeric_limits<A>::infinity() ? A(0) : st.m;  // the CPU's rule for all -inf
  return {m, A(1) / st.s, m + log(st.s)};
}

template <class T, class A>
__device__ __forceinline__ T softmax_value(T x, const RowScale<A>& r, bool log_softmax) {
  const A v = cast<A>(x);
  return cast<T>(log_softmax ? v - r.lse : exp(v - r.m) * r.inv_s);
}

// Merges the stats of a whole block (1-D, a multiple of 32 threads).
template <class A>
__device__ MaxSum<A> block_merge_stats(MaxSum<A> st, A* sm, A* ss) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  st = warp_merge_stats(st);
  __syncthreads();
  if (lane == 0) {
    sm[warp] = st.m;
    ss[warp] = st.s;
  }
  __syncthreads();
  const int warps = blockDim.x >> 5;
  st = lane < warps ? MaxSum<A>{sm[lane], ss[lane]} : empty_stats<A>();
  return warp_merge_stats(st);
}

// --- Forward ---

template <class T>
__global__ void __launch_bounds__(256)
    softmax_rows_warp_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t D, bool log_softmax) {
  using A = acc_t<T>;
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= rows) return;
  const T* p = x + row * D;
  T* q = y + row * D;
  MaxSum<A> st = empty_stats<A>();
  for (int64_t d = lane; d < D; d += 32) add_value(st, cast<A>(p[d]));
  const RowScale<A> r = row_scale(warp_merge_stats(st));
  for (int64_t d = lane; d < D; d += 32) q[d] = softmax_value(p[d], r, log_softmax);
}

template <class T>
__global__ void __launch_bounds__(512)
    softmax_rows_block_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t D, bool log_softmax) {
  using A = acc_t<T>;
  const T* p = x + static_cast<int64_t>(blockIdx.x) * D;
  T* q = y + static_cast<int64_t>(blockIdx.x) * D;
  MaxSum<A> st = empty_stats<A>();
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) add_value(st, cast<A>(p[d]));
  __shared__ A sm[32], ss[32];
  const RowScale<A> r = row_scale(block_merge_stats(st, sm, ss));
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) q[d] = softmax_value(p[d], r, log_softmax);
}

template <class T>
__global__ void __launch_bounds__(256)
    softmax_cols_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t D, int64_t inner, int64_t tiles,
                        bool log_softmax) {
  using A = acc_t<T>;
  const int64_t o = blockIdx.x / tiles;
  const int64_t i = (blockIdx.x % tiles) * blockDim.x + threadIdx.x;
  const bool active = i < inner;
  const T* p = x + o * D * inner + i;
  T* q = y + o * D * inner + i;
  MaxSum<A> st = empty_stats<A>();
  if (active) {
    for (int64_t d = threadIdx.y; d < D; d += blockDim.y) add_value(st, cast<A>(p[d * inner]));
  }
  __shared__ A sm[256], ss[256];
  const int t = threadIdx.y * blockDim.x + threadIdx.x;
  sm[t] = st.m;
  ss[t] = st.s;
  __syncthreads();
  for (int s = blockDim.y / 2; s > 0; s >>= 1) {
    if (threadIdx.y < s) {
      const MaxSum<A> merged = merge_stats(MaxSum<A>{sm[t], ss[t]}, MaxSum<A>{sm[t + s * blockDim.x], ss[t + s * blockDim.x]});
      sm[t] = merged.m;
      ss[t] = merged.s;
    }
    __syncthreads();
  }
  if (!active) return;
  const RowScale<A> r = row_scale(MaxSum<A>{sm[threadIdx.x], ss[threadIdx.x]});
  for (int64_t d = threadIdx.y; d < D; d += blockDim.y) q[d * inner] = softmax_value(p[d * inner], r, log_softmax);
}

// --- Backward ---

// softmax: the sum is sum(dy * y) and dx = y * (dy - sum); log: sum(dy), dx = dy - exp(y) * sum.
template <class T, class A>
__device__ __forceinline__ A backward_term(T gy, T y, bool log_softmax) {
  return log_softmax ? cast<A>(gy) : cast<A>(gy) * cast<A>(y);
}

template <class T, class A>
__device__ __forceinline__ T backward_value(T gy, T y, A sum, bool log_softmax) {
  const A g = cast<A>(gy), v = cast<A>(y);
  return cast<T>(log_softmax ? g - exp(v) * sum : v * (g - sum));
}

template <class T>
__global__ void __launch_bounds__(256)
    softmax_backward_rows_warp_kernel(const T* __restrict__ gy, const T* __restrict__ y, T* __restrict__ gx,
                                      int64_t rows, int64_t D, bool log_softmax) {
  using A = acc_t<T>;
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= rows) return;
  const int64_t base = row * D;
  A sum = 0;
  for (int64_t d = lane; d < D; d += 32) sum += backward_term<T, A>(gy[base + d], y[base + d], log_softmax);
  sum = warp_allreduce(sum, SumFn{});
  for (int64_t d = lane; d < D; d += 32) gx[base + d] = backward_value(gy[base + d], y[base + d], sum, log_softmax);
}

template <class T>
__global__ void __launch_bounds__(512)
    softmax_backward_rows_block_kernel(const T* __restrict__ gy, const T* __restrict__ y, T* __restrict__ gx,
                                       int64_t D, bool log_softmax) {
  using A = acc_t<T>;
  const int64_t base = static_cast<int64_t>(blockIdx.x) * D;
  A sum = 0;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) sum += backward_term<T, A>(gy[base + d], y[base + d], log_softmax);
  __shared__ A shared[32];
  sum = block_allreduce(sum, SumFn{}, A(0), shared);
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    gx[base + d] = backward_value(gy[base + d], y[base + d], sum, log_softmax);
  }
}

template <class T>
__global__ void __launch_bounds__(256)
    softmax_backward_cols_kernel(const T* __restrict__ gy, const T* __restrict__ y, T* __restrict__ gx, int64_t D,
                                 int64_t inner, int64_t tiles, bool log_softmax) {
  using A = acc_t<T>;
  const int64_t o = blockIdx.x / tiles;
  const int64_t i = (blockIdx.x % tiles) * blockDim.x + threadIdx.x;
  const bool active = i < inner;
  const int64_t base = o * D * inner + i;
  A sum = 0;
  if (active) {
    for (int64_t d = threadIdx.y; d < D; d += blockDim.y) {
      sum += backward_term<T, A>(gy[base + d * inner], y[base + d * inner], log_softmax);
    }
  }
  __shared__ A tile[256];
  const int t = threadIdx.y * blockDim.x + threadIdx.x;
  tile[t] = sum;
  __syncthreads();
  for (int s = blockDim.y / 2; s > 0; s >>= 1) {
    if (threadIdx.y < s) tile[t] += tile[t + s * blockDim.x];
    __syncthreads();
  }
  if (!active) return;
  sum = tile[threadIdx.x];
  for (int64_t d = threadIdx.y; d < D; d += blockDim.y) {
    const int64_t k = base + d * inner;
    gx[k] = backward_value(gy[k], y[k], sum, log_softmax);
  }
}

// The launch shape for [outer, D, inner]: 1-D row kernels or the 2-D column kernel.
struct SoftmaxLaunch {
  bool rows, warp_per_row;
  dim3 grid, block;
  int64_t tiles = 0;
  SoftmaxLaunch(int64_t outer, int64_t D, int64_t inner) {
    rows = inner == 1;
    if (rows) {
      warp_per_row = D <= 1024;
      EMBER_CHECK(outer <= INT32_MAX, "softmax", "too many rows (", outer, ")");
      grid = dim3(static_cast<unsigned>(warp_per_row ? ceil_div(outer, 8) : outer));
      block = dim3(warp_per_row ? 256 : 512);
    } else {
      warp_per_row = false;
      int64_t bx = 1;
      while (bx < inner && bx < 32) bx *= 2;
      tiles = ceil_div(inner, bx);
      EMBER_CHECK(outer * tiles <= INT32_MAX, "softmax", "too many columns (", outer, " x ", inner, ")");
      grid = dim3(static_cast<unsigned>(outer * tiles));
      block = dim3(static_cast<unsigned>(bx), static_cast<unsigned>(256 / bx));
    }
  }
};

}  // namespace

void CudaBackend::softmax_forward(const Tensor& out, const Tensor& in, int64_t outer, int64_t D, int64_t inner,
                                  bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  if (outer * D * inner == 0) return;
  KernelContext ctx(in);
  const SoftmaxLaunch l(outer, D, inner);
  dispatch_cuda_floating(in.dtype(), op, [&]<class T>() {
    const T* x = static_cast<const T*>(in.data_ptr());
    T* y = static_cast<T*>(out.data_ptr());
    if (l.rows && l.warp_per_row) softmax_rows_warp_kernel<T><<<l.grid, l.block, 0, ctx.stream>>>(x, y, outer, D, log);
    else if (l.rows) softmax_rows_block_kernel<T><<<l.grid, l.block, 0, ctx.stream>>>(x, y, D, log);
    else softmax_cols_kernel<T><<<l.grid, l.block, 0, ctx.stream>>>(x, y, D, inner, l.tiles, log);
    EMBER_CUDA_CHECK_LAUNCH(op, cat_str("([", outer, ", ", D, ", ", inner, "])"));
  });
}

void CudaBackend::softmax_backward(const Tensor& grad_in, const Tensor& grad_out, const Tensor& out, int64_t outer,
                                   int64_t D, int64_t inner, bool log) {
  const char* op = log ? "log_softmax_backward" : "softmax_backward";
  if (outer * D * inner == 0) return;
  KernelContext ctx(out);
  const SoftmaxLaunch l(outer, D, inner);
  dispatch_cuda_floating(out.dtype(), op, [&]<class T>() {
    const T* gy = static_cast<const T*>(grad_out.data_ptr());
    const T* y = static_cast<const T*>(out.data_ptr());
    T* gx = static_cast<T*>(grad_in.data_ptr());
    if (l.rows && l.warp_per_row) {
      softmax_backward_rows_warp_kernel<T><<<l.grid, l.block, 0, ctx.stream>>>(gy, y, gx, outer, D, log);
    } else if (l.rows) {
      softmax_backward_rows_block_kernel<T><<<l.grid, l.block, 0, ctx.stream>>>(gy, y, gx, D, log);
    } else {
      softmax_backward_cols_kernel<T><<<l.grid, l.block, 0, ctx.stream>>>(gy, y, gx, D, inner, l.tiles, log);
    }
    EMBER_CUDA_CHECK_LAUNCH(op, cat_str("([", outer, ", ", D, ", ", inner, "])"));
  });
}

}  // namespace ember
