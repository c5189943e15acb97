// CUDA reductions over the middle dim of a contiguous [outer, R, inner]
// tensor (sum, mean, max, min, prod), and the convolution bias gradient.
// Floats accumulate in their own type (16-bit floats in float), integers in
// int64; max/min propagate NaN like the CPU (math::maximum).
//
// Launch shapes:
// - inner == 1, R <= 512 (rows):  one warp per row, 8 rows per 256-thread
//   block; lanes read consecutive elements (coalesced), then warp shuffles.
// - inner == 1, R > 512 (rows):   one 256/512-thread block per row (and per
//   split, below); 16-byte vector loads once the address is aligned, then a
//   block reduction.
// - inner > 1 (columns):          2-D blocks of 256 threads: bx = min(32,
//   inner rounded up to a power of 2) threads along inner, by = 256 / bx
//   along R. A warp reads whole rows of the tile (coalesced even when inner
//   is small), each thread folds every by-th row with 4 loads in flight, and
//   shared memory folds the by partial results.
// - Too few rows or columns to fill the GPU: R is split over up to 512
//   blocks (gridDim.y; at most one wave of resident blocks in all), each
//   writing a partial result (in the accumulator
//   type) to a scratch [outer, splits, inner] buffer, and a second pass
//   reduces the splits with the same kernels. No atomics: results are
//   deterministic.
// Memory traffic: each input element is read once (plus the small partial
// buffer); each output written once.
#include <algorithm>
#include <limits>

#include "engine/cuda/caching_allocator.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/reduce.cuh"
#include "kernels/elementwise_math.h"

namespace ember {
namespace {

// Floats accumulate in float or double, integers in int64.
template <class T>
using reduce_acc_t = std::conditional_t<is_float_like_v<T>, acc_t<T>, int64_t>;

template <ReduceOp K, class A>
struct Combine {
  __device__ __forceinline__ A operator()(A a, A b) const {
    if constexpr (K == ReduceOp::Max) return math::maximum(a, b);
    else if constexpr (K == ReduceOp::Min) return math::minimum(a, b);
    else if constexpr (K == ReduceOp::Prod) return a * b;
    else return a + b;  // Sum, Mean
  }
};

template <ReduceOp K, class A>
__host__ __device__ constexpr A identity_of() {
  if constexpr (K == ReduceOp::Max) {
    if constexpr (std::is_floating_point_v<A>) return -std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::lowest();
  } else if constexpr (K == ReduceOp::Min) {
    if constexpr (std::is_floating_point_v<A>) return std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::max();
  } else if constexpr (K == ReduceOp::Prod) {
    return A(1);
  } else {
    return A(0);
  }
}

// How a kernel stores its result: a final output (divided by `divisor` for
// a mean) or a partial result in the accumulator type for a second pass.
struct Finish {
  bool final = true;
  bool mean = false;
  double divisor = 1.0;
};

template <class Out, class A>
__device__ __forceinline__ Out finish_value(A acc, const Finish& fin) {
  if (fin.final && fin.mean) {
    using F = std::conditional_t<std::is_floating_point_v<A>, A, double>;
    return cast<Out>(static_cast<F>(acc) / static_cast<F>(fin.divisor));
  }
  return cast<Out>(acc);
}

template <ReduceOp K, class In, class A, class Out>
__global__ void __launch_bounds__(256)
    reduce_rows_warp_kernel(const In* __restrict__ x, Out* __restrict__ y, int64_t rows, int64_t R, Finish fin) {
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= rows) return;  // the whole warp leaves together
  const Combine<K, A> f;
  const In* p = x + row * R;
  A acc = identity_of<K, A>();
  for (int64_t r = lane; r < R; r += 32) acc = f(acc, cast<A>(p[r]));
  acc = warp_allreduce(acc, f);
  if (lane == 0) y[row] = finish_value<Out>(acc, fin);
}

template <ReduceOp K, class In, class A, class Out>
__global__ void __launch_bounds__(512)
    reduce_rows_block_kernel(const In* __restrict__ x, Out* __restrict__ y, int64_t R, int64_t chunk, Finish fin) {
  constexpr int VEC = 16 / sizeof(In);
  const Combine<K, A> f;
  const int64_t row = blockIdx.x;
  const int64_t begin = static_cast<int64_t>(blockIdx.y) * chunk;
  const int64_t end = begin + chunk < R ? begin + chunk : R;
  const In* p = x + row * R;
  A acc = identity_of<K, A>();
  if (begin < end) {
    // Elements before the first 16-byte boundary, then whole vectors, then the rest.
    const int64_t misaligned = static_cast<int64_t>(reinterpret_cast<uintptr_t>(p + begin) % 16);
    int64_t head = ((16 - misaligned) % 16) / static_cast<int64_t>(sizeof(In));
    if (head > end - begin) head = end - begin;
    if (threadIdx.x < head) acc = f(acc, cast<A>(p[begin + threadIdx.x]));
    const int64_t vbegin = begin + head;
    const int64_t nvec = (end - vbegin) / VEC;
    const Packed<In, VEC>* pv = reinterpret_cast<const Packed<In, VEC>*>(p + vbegin);
    for (int64_t v = threadIdx.x; v < nvec; v += blockDim.x) {
      const Packed<In, VEC> pk = pv[v];
#pragma unroll
      for (int j = 0; j < VEC; ++j) acc = f(acc, cast<A>(pk.v[j]));
    }
    for (int64_t i = vbegin + nvec * VEC + threadIdx.x; i < end; i += blockDim.x) acc = f(acc, cast<A>(p[i]));
  }
  __shared__ A shared[32];
  acc = block_allreduce(acc, f, identity_of<K, A>(), shared);
  if (threadIdx.x == 0) y[row * gridDim.y + blockIdx.y] = finish_value<Out>(acc, fin);
}

template <ReduceOp K, class In, class A, class Out>
__global__ void __launch_bounds__(256)
    reduce_cols_kernel(const In* __restrict__ x, Out* __restrict__ y, int64_t R, int64_t inner,
                       int64_t tiles_per_outer, int64_t chunk, Finish fin) {
  const Combine<K, A> f;
  const int64_t o = blockIdx.x / tiles_per_outer;
  const int64_t i = (blockIdx.x % tiles_per_outer) * blockDim.x + threadIdx.x;
  const int64_t begin = static_cast<int64_t>(blockIdx.y) * chunk;
  const int64_t end = begin + chunk < R ? begin + chunk : R;
  const int64_t by = blockDim.y;
  A acc = identity_of<K, A>();
  if (i < inner) {
    const In* p = x + o * R * inner + i;
    int64_t r = begin + threadIdx.y;
    for (; r + 3 * by < end; r += 4 * by) {  // four independent loads in flight
      const A a0 = cast<A>(p[r * inner]);
      const A a1 = cast<A>(p[(r + by) * inner]);
      const A a2 = cast<A>(p[(r + 2 * by) * inner]);
      const A a3 = cast<A>(p[(r + 3 * by) * inner]);
      acc = f(f(acc, a0), f(f(a1, a2), a3));
    }
    for (; r < end; r += by) acc = f(acc, cast<A>(p[r * inner]));
  }
  __shared__ A tile[256];
  const int t = threadIdx.y * blockDim.x + threadIdx.x;
  tile[t] = acc;
  __syncthreads();
  for (int s = blockDim.y / 2; s > 0; s >>= 1) {
    if (threadIdx.y < s) tile[t] = f(tile[t], tile[t + s * blockDim.x]);
    __syncthreads();
  }
  if (threadIdx.y == 0 && i < inner) y[(o * gridDim.y + blockIdx.y) * inner + i] = finish_value<Out>(tile[threadIdx.x], fin);
}

int64_t pow2_ceil(int64_t v) {
  int64_t p = 1;
  while (p < v) p *= 2;
  return p;
}

// One pass with a given split of R (splits blocks along gridDim.y, `chunk`
// rows each): the block-per-row kernel when inner == 1, else the column kernel.
template <ReduceOp K, class In, class A, class Out>
void reduce_pass(cudaStream_t stream, const In* x, Out* y, int64_t outer, int64_t R, int64_t inner, int64_t splits,
                 int64_t chunk, int64_t threads, Finish fin) {
  if (inner == 1) {
    EMBER_CHECK(outer <= INT32_MAX, "reduce", "too many rows (", outer, ")");
    dim3 grid(static_cast<unsigned>(outer), static_cast<unsigned>(splits));
    reduce_rows_block_kernel<K, In, A, Out><<<grid, static_cast<unsigned>(threads), 0, stream>>>(x, y, R, chunk, fin);
    EMBER_CUDA_CHECK_LAUNCH("reduce", cat_str("(row-block kernel, [", outer, ", ", R, "], ", splits, " splits)"));
  } else {
    const int64_t bx = std::min<int64_t>(32, pow2_ceil(inner));
    const int64_t tiles = ceil_div(inner, bx);
    EMBER_CHECK(outer * tiles <= INT32_MAX, "reduce", "too many columns (", outer, " x ", inner, ")");
    dim3 grid(static_cast<unsigned>(outer * tiles), static_cast<unsigned>(splits));
    dim3 block(static_cast<unsigned>(bx), static_cast<unsigned>(256 / bx));
    reduce_cols_kernel<K, In, A, Out><<<grid, block, 0, stream>>>(x, y, R, inner, tiles, chunk, fin);
    EMBER_CUDA_CHECK_LAUNCH("reduce", cat_str("(column kernel, [", outer, ", ", R, ", ", inner, "], ", splits,
                                              " splits)"));
  }
}

// Reduces x [outer, R, inner] (type In) into y [outer, inner] (type Out),
// accumulating in A, on `stream`. When the output alone cannot fill the GPU,
// R is split over blocks and a second pass reduces the partial results.
template <ReduceOp K, class In, class A, class Out>
void reduce_launch(int device, cudaStream_t stream, const In* x, Out* y, int64_t outer, int64_t R, int64_t inner,
                   Finish fin, bool allow_split = true) {
  if (outer * inner == 0) return;
  if (inner == 1 && R <= 512) {
    EMBER_CHECK(ceil_div(outer, 8) <= INT32_MAX, "reduce", "too many rows (", outer, ")");
    const unsigned blocks = static_cast<unsigned>(ceil_div(outer, 8));
    reduce_rows_warp_kernel<K, In, A, Out><<<blocks, 256, 0, stream>>>(x, y, outer, R, fin);
    EMBER_CUDA_CHECK_LAUNCH("reduce", cat_str("(row-warp kernel, [", outer, ", ", R, "])"));
    return;
  }
  int64_t base_blocks, threads, along_r, min_per_thread;
  if (inner == 1) {
    threads = R < 16384 ? 256 : 512;
    base_blocks = outer;
    along_r = threads;
    min_per_thread = 4 * (16 / static_cast<int64_t>(sizeof(In)));  // four vector loads
  } else {
    const int64_t bx = std::min<int64_t>(32, pow2_ceil(inner));
    threads = 256;
    base_blocks = outer * ceil_div(inner, bx);
    along_r = 256 / bx;
    min_per_thread = 8;
  }
  // One wave of resident blocks: a second, partial wave would idle most of the GPU.
  const int64_t target_blocks = static_cast<int64_t>(sm_count(device)) * (2048 / threads);
  int64_t splits = 1;
  if (allow_split && R > 0 && base_blocks < target_blocks) {
    splits = std::min({target_blocks / base_blocks, ceil_div(R, along_r * min_per_thread), int64_t{512}});
  }
  if (splits <= 1) return reduce_pass<K, In, A, Out>(stream, x, y, outer, R, inner, 1, R, threads, fin);

  int64_t chunk = ceil_div(R, splits);
  if (inner == 1) chunk = ceil_div(chunk, 16) * 16;  // keeps every split's start 16-byte aligned when the row's is
  splits = ceil_div(R, chunk);
  DeviceBuffer partial(device, static_cast<size_t>(outer * splits * inner) * sizeof(A));
  Finish partial_fin;
  partial_fin.final = false;
  reduce_pass<K, In, A, A>(stream, x, partial.as<A>(), outer, R, inner, splits, chunk, threads, partial_fin);
  reduce_launch<K, A, A, Out>(device, stream, partial.as<A>(), y, outer, splits, inner, fin, false);
}

template <class T>
void reduce_typed(const Tensor& out, const Tensor& in, ReduceOp op, int64_t outer, int64_t R, int64_t inner) {
  using A = reduce_acc_t<T>;
  KernelContext ctx(in);
  const T* x = static_cast<const T*>(in.data_ptr());
  T* y = static_cast<T*>(out.data_ptr());
  Finish fin;
  fin.mean = op == ReduceOp::Mean;
  fin.divisor = static_cast<double>(R);
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Mean: return reduce_launch<ReduceOp::Sum, T, A, T>(ctx.device, ctx.stream, x, y, outer, R, inner, fin);
    case ReduceOp::Max: return reduce_launch<ReduceOp::Max, T, A, T>(ctx.device, ctx.stream, x, y, outer, R, inner, fin);
    case ReduceOp::Min: return reduce_launch<ReduceOp::Min, T, A, T>(ctx.device, ctx.stream, x, y, outer, R, inner, fin);
    case ReduceOp::Prod:
      return reduce_launch<ReduceOp::Prod, T, A, T>(ctx.device, ctx.stream, x, y, outer, R, inner, fin);
  }
}

}  // namespace

void CudaBackend::reduce(const Tensor& out, const Tensor& in, ReduceOp op, int64_t outer, int64_t R, int64_t inner) {
  dispatch_cuda_dtype(in.dtype(), "reduce", [&]<class T>() {
    if constexpr (std::is_same_v<T, bool>) {
      fail("reduce", "bool tensors are reduced after conversion to int64");
    } else {
      reduce_typed<T>(out, in, op, outer, R, inner);
    }
  });
}

// grad_bias[oc] = sum over n and the plane of grad_out[n, oc, :]: the planes
// reduce to [N, OC] partial sums (in the accumulator type), which then reduce
// over N.
void CudaBackend::conv2d_backward_bias(const Tensor& grad_bias, const Tensor& grad_out) {
  const int64_t N = grad_out.size(0), OC = grad_out.size(1);
  const int64_t hw = grad_out.numel() / std::max<int64_t>(N * OC, 1);
  KernelContext ctx(grad_out);
  if (OC == 0) return;
  if (N * hw == 0) {
    EMBER_CUDA_CHECK(cudaMemsetAsync(grad_bias.data_ptr(), 0, static_cast<size_t>(OC) * grad_bias.element_size(),
                                     ctx.stream),
                     "conv2d_backward_bias");
    return;
  }
  dispatch_cuda_floating(grad_out.dtype(), "conv2d_backward_bias", [&]<class T>() {
    using A = acc_t<T>;
    const T* gy = static_cast<const T*>(grad_out.data_ptr());
    T* gb = static_cast<T*>(grad_bias.data_ptr());
    // Channels-last: column sums of [N*H*W, OC].
    if (is_channels_last(grad_out))
      return reduce_launch<ReduceOp::Sum, T, A, T>(ctx.device, ctx.stream, gy, gb, 1, N * hw, OC, Finish{});
    if (N == 1) return reduce_launch<ReduceOp::Sum, T, A, T>(ctx.device, ctx.stream, gy, gb, OC, hw, 1, Finish{});
    DeviceBuffer planes(ctx.device, static_cast<size_t>(N * OC) * sizeof(A));
    reduce_launch<ReduceOp::Sum, T, A, A>(ctx.device, ctx.stream, gy, planes.as<A>(), N * OC, hw, 1, Finish{});
    reduce_launch<ReduceOp::Sum, A, A, T>(ctx.device, ctx.stream, planes.as<A>(), gb, 1, N, OC, Finish{});
  });
}

}  // namespace ember
