// CUDA where(cond, a, b): out[i] = cond[i] ? a[i] : b[i], any strides and
// broadcasting, every dtype. The value is copied bit for bit (no conversion).
// Launch shape: one thread per element in grid-stride loops of 256-thread
// blocks; contiguous operands index directly, anything else goes through
// the elementwise OffsetCalc (elementwise.cuh).
// Memory traffic: 1 byte (cond) + 2 * sizeof(T) read (only one of a, b is
// actually loaded) + sizeof(T) written per element.
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/elementwise.cuh"

namespace ember {
namespace {

template <class T>
__global__ void where_flat_kernel(int64_t n, T* __restrict__ out, const bool* __restrict__ cond,
                                  const T* __restrict__ a, const T* __restrict__ b, uint32_t scalar_mask) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const bool c = cond[(scalar_mask & 1u) ? 0 : i];
    out[i] = c ? a[(scalar_mask & 2u) ? 0 : i] : b[(scalar_mask & 4u) ? 0 : i];
  }
}

template <class T>
__global__ void where_strided_kernel(int64_t n, T* __restrict__ out, const bool* __restrict__ cond,
                                     const T* __restrict__ a, const T* __restrict__ b, OffsetCalc<4> calc) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[4];
    calc.get(i, off);
    out[off[0]] = cond[off[1]] ? a[off[2]] : b[off[3]];
  }
}

template <class T>
void where_typed(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  const ElementwiseLayout<4> layout = make_elementwise_layout<4>({&out, &cond, &a, &b}, "where");
  if (layout.numel == 0) return;
  KernelContext ctx(out);
  T* o = static_cast<T*>(out.data_ptr());
  const bool* c = static_cast<const bool*>(cond.data_ptr());
  const T* pa = static_cast<const T*>(a.data_ptr());
  const T* pb = static_cast<const T*>(b.data_ptr());
  const unsigned blocks = grid_for(layout.numel, kElementwiseThreads, ctx.device);
  if (layout.flat) {
    where_flat_kernel<T><<<blocks, kElementwiseThreads, 0, ctx.stream>>>(layout.numel, o, c, pa, pb,
                                                                          layout.scalar_mask);
  } else {
    where_strided_kernel<T><<<blocks, kElementwiseThreads, 0, ctx.stream>>>(layout.numel, o, c, pa, pb, layout.calc);
  }
  EMBER_CUDA_CHECK_LAUNCH("where", cat_str("(shape ", out.shape(), ")"));
}

}  // namespace

void CudaBackend::where(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  EMBER_CHECK(cond.dtype() == DType::Bool, "where", "the condition must be a bool tensor");
  dispatch_cuda_dtype(a.dtype(), "where", [&]<class T>() { where_typed<T>(out, cond, a, b); });
}

}  // namespace ember
