// Warp and block reduction primitives shared by the CUDA reduction, softmax,
// batch-norm and convolution-gradient kernels.
//   warp_allreduce(v, f): butterfly over the 32 lanes with __shfl_xor_sync;
//     every lane ends with f folded over all lanes' values.
//   block_allreduce(v, f, identity, shared): the same over a 1-D block whose
//     size is a multiple of 32: each warp reduces, lane 0 of each warp writes
//     one value to `shared` (32 slots), and every warp folds those. Every
//     thread gets the result. It starts with __syncthreads(), so one `shared`
//     array can serve several reductions in a row.
// f must be associative and commutative (sum, max, min, an argmax pair with
// index tie-breaking), since the order of folding is a tree.
#pragma once

#include "kernels/cuda/device_types.cuh"

namespace ember {

inline constexpr unsigned kFullWarpMask = 0xffffffffu;

template <class T, class F>
__device__ __forceinline__ T warp_allreduce(T v, F f) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v = f(v, __shfl_xor_sync(kFullWarpMask, v, offset));
  return v;
}

template <class T, class F>
__device__ __forceinline__ T block_allreduce(T v, F f, T identity, T* shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warps = (blockDim.x + 31) >> 5;
  v = warp_allreduce(v, f);
  __syncthreads();  // `shared` may still be read by a previous reduction
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < warps ? shared[lane] : identity;
  return warp_allreduce(v, f);
}

struct SumFn {
  template <class A> __device__ __forceinline__ A operator()(A a, A b) const { return a + b; }
};

}  // namespace ember
