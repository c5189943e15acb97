// CUDA max/min with the index of the extreme (max(dim), argmax, ...) over the
// middle dim of a contiguous [outer, R, inner] tensor, every dtype.
// Semantics equal the CPU's sequential scan: a NaN wins (the first NaN), and
// among equal values the first index wins. In a tree the same result comes
// from merging (value, index) pairs with: NaN beats non-NaN, a strictly
// better value wins, ties (and two NaNs) go to the smaller index.
// Launch shapes:
// - inner == 1: one warp per row (8 rows per 256-thread block) when R <= 1024,
//   else one 512-thread block per row; lanes read consecutive elements.
// - inner > 1: 2-D blocks of 256 threads, bx = min(32, inner rounded up to a
//   power of 2) along inner and 256 / bx along R, folded in shared memory
//   (as the column reduction in reduce.cu; R is not split over blocks).
// Memory traffic: each input element read once; a value (sizeof(T)) and an
// index (8 bytes) written per output.
#include <algorithm>
#include <limits>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/reduce.cuh"

namespace ember {
namespace {

// The type values are compared in: float for 16-bit floats, int for 1-byte types (shuffles need 4 bytes).
template <class T>
using cmp_t = std::conditional_t<is_16bit_float_v<T>, float, std::conditional_t<(sizeof(T) < 4), int, T>>;

template <class V>
__device__ __forceinline__ bool nan_of(V v) {
  if constexpr (std::is_floating_point_v<V>) return v != v;
  else return false;
}

template <bool IsMax, class V>
struct ArgBest {
  V v;
  int64_t i;
  // Merges another candidate into this one.
  __device__ __forceinline__ void merge(V ov, int64_t oi) {
    const bool nan_self = nan_of(v), nan_other = nan_of(ov);
    bool take;
    if (nan_self || nan_other) take = nan_other && (!nan_self || oi < i);
    else if (IsMax ? ov > v : ov < v) take = true;
    else take = ov == v && oi < i;
    if (take) {
      v = ov;
      i = oi;
    }
  }
  __device__ __forceinline__ void warp_merge() {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
      const V ov = __shfl_xor_sync(kFullWarpMask, v, offset);
      const int64_t oi = __shfl_xor_sync(kFullWarpMask, i, offset);
      merge(ov, oi);
    }
  }
};

template <bool IsMax, class V>
__host__ __device__ constexpr V worst_value() {
  if constexpr (std::is_floating_point_v<V>) {
    return IsMax ? -std::numeric_limits<V>::infinity() : std::numeric_limits<V>::infinity();
  } else {
    return IsMax ? std::numeric_limits<V>::lowest() : std::numeric_limits<V>::max();
  }
}

constexpr int64_t kNoIndex = std::numeric_limits<int64_t>::max();

template <bool IsMax, class T>
__device__ __forceinline__ void write_result(const ArgBest<IsMax, cmp_t<T>>& b, T* values, int64_t* indices,
                                             int64_t out) {
  if (values) values[out] = cast<T>(b.v);
  indices[out] = b.i;
}

template <bool IsMax, class T>
__global__ void __launch_bounds__(256)
    argbest_rows_warp_kernel(const T* __restrict__ x, T* values, int64_t* indices, int64_t rows, int64_t R) {
  using V = cmp_t<T>;
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= rows) return;
  ArgBest<IsMax, V> b{worst_value<IsMax, V>(), kNoIndex};
  const T* p = x + row * R;
  for (int64_t r = lane; r < R; r += 32) b.merge(cast<V>(p[r]), r);
  b.warp_merge();
  if (lane == 0) write_result<IsMax, T>(b, values, indices, row);
}

template <bool IsMax, class T>
__global__ void __launch_bounds__(512)
    argbest_rows_block_kernel(const T* __restrict__ x, T* values, int64_t* indices, int64_t R) {
  using V = cmp_t<T>;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t row = blockIdx.x;
  ArgBest<IsMax, V> b{worst_value<IsMax, V>(), kNoIndex};
  const T* p = x + row * R;
  for (int64_t r = threadIdx.x; r < R; r += blockDim.x) b.merge(cast<V>(p[r]), r);
  b.warp_merge();
  __shared__ V sv[32];
  __shared__ int64_t si[32];
  if (lane == 0) {
    sv[warp] = b.v;
    si[warp] = b.i;
  }
  __syncthreads();
  if (warp == 0) {
    const int warps = blockDim.x >> 5;
    b.v = lane < warps ? sv[lane] : worst_value<IsMax, V>();
    b.i = lane < warps ? si[lane] : kNoIndex;
    b.warp_merge();
    if (lane == 0) write_result<IsMax, T>(b, values, indices, row);
  }
}

template <bool IsMax, class T>
__global__ void __launch_bounds__(256)
    argbest_cols_kernel(const T* __restrict__ x, T* values, int64_t* indices, int64_t R, int64_t inner,
                        int64_t tiles_per_outer) {
  using V = cmp_t<T>;
  const int64_t o = blockIdx.x / tiles_per_outer;
  const int64_t i = (blockIdx.x % tiles_per_outer) * blockDim.x + threadIdx.x;
  ArgBest<IsMax, V> b{worst_value<IsMax, V>(), kNoIndex};
  if (i < inner) {
    const T* p = x + o * R * inner + i;
    for (int64_t r = threadIdx.y; r < R; r += blockDim.y) b.merge(cast<V>(p[r * inner]), r);
  }
  __shared__ V sv[256];
  __shared__ int64_t si[256];
  const int t = threadIdx.y * blockDim.x + threadIdx.x;
  sv[t] = b.v;
  si[t] = b.i;
  __syncthreads();
  for (int s = blockDim.y / 2; s > 0; s >>= 1) {
    if (threadIdx.y < s) {
      ArgBest<IsMax, V> mine{sv[t], si[t]};
      mine.merge(sv[t + s * blockDim.x], si[t + s * blockDim.x]);
      sv[t] = mine.v;
      si[t] = mine.i;
    }
    __syncthreads();
  }
  if (threadIdx.y == 0 && i < inner) {
    ArgBest<IsMax, V> best{sv[threadIdx.x], si[threadIdx.x]};
    write_result<IsMax, T>(best, values, indices, o * inner + i);
  }
}

template <bool IsMax, class T>
void argbest(const Tensor& values, const Tensor& indices, const Tensor& in, int64_t outer, int64_t R, int64_t inner) {
  KernelContext ctx(in);
  const T* x = static_cast<const T*>(in.data_ptr());
  T* v = values.defined() ? static_cast<T*>(values.data_ptr()) : nullptr;
  int64_t* idx = static_cast<int64_t*>(indices.data_ptr());
  const char* op = IsMax ? "max" : "min";
  if (inner == 1) {
    if (R <= 1024) {
      argbest_rows_warp_kernel<IsMax, T><<<static_cast<unsigned>(ceil_div(outer, 8)), 256, 0, ctx.stream>>>(
          x, v, idx, outer, R);
    } else {
      argbest_rows_block_kernel<IsMax, T><<<static_cast<unsigned>(outer), 512, 0, ctx.stream>>>(x, v, idx, R);
    }
  } else {
    int64_t bx = 1;
    while (bx < inner && bx < 32) bx *= 2;
    const int64_t tiles = ceil_div(inner, bx);
    dim3 block(static_cast<unsigned>(bx), static_cast<unsigned>(256 / bx));
    argbest_cols_kernel<IsMax, T><<<static_cast<unsigned>(outer * tiles), block, 0, ctx.stream>>>(x, v, idx, R, inner,
                                                                                                  tiles);
  }
  EMBER_CUDA_CHECK_LAUNCH(op, cat_str("([", outer, ", ", R, ", ", inner, "])"));
}

}  // namespace

void CudaBackend::reduce_with_index(const Tensor& values, const Tensor& indices, const Tensor& in, ReduceOp op,
                                    int64_t outer, int64_t R, int64_t inner) {
  EMBER_CHECK(R > 0, "max/min", "cannot reduce an empty dimension");
  EMBER_CHECK(op == ReduceOp::Max || op == ReduceOp::Min, "max/min", "reduce_with_index supports Max and Min");
  EMBER_CHECK(outer * inner <= INT32_MAX, "max/min", "too many outputs (", outer * inner, ")");
  if (outer * inner == 0) return;
  dispatch_cuda_dtype(in.dtype(), "reduce_with_index", [&]<class T>() {
    if (op == ReduceOp::Max) argbest<true, T>(values, indices, in, outer, R, inner);
    else argbest<false, T>(values, indices, in, outer, R, inner);
  });
}

}  // namespace ember
