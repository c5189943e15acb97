// CUDA copies, fills and ranges.
//   copy:      same dtype and both contiguous -> one cudaMemcpyAsync (device to
//              device); otherwise the elementwise machinery with a cast
//              (elementwise.cuh): any strides, any dtype pair.
//   transfers: cudaMemcpyAsync on the current stream. Host to device from
//              pageable memory waits for the copy (the caller may free the host
//              buffer right after); from pinned memory it returns at once and
//              the pinned block is kept until the copy has run. Device to host
//              always waits: the caller reads the data next.
//   fill:      a zero pattern on contiguous memory -> cudaMemsetAsync; else an
//              elementwise kernel with no inputs.
//   arange:    one thread per element, value = start + i * step in double
//              (fused multiply-add, as the CPU build contracts it), then cast.
// Launch shape: grid-stride loops of 256-thread blocks. Memory traffic:
// copy reads sizeof(src) and writes sizeof(dst) per element; fill and arange
// write sizeof(T) per element.
#include <cstring>

#include "engine/cuda/pinned_memory.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/elementwise.cuh"

namespace ember {
namespace {

template <class T>
struct IdentityFn {
  __device__ T operator()(T x) const { return x; }
};

template <class T>
struct FillFn {
  T value;
  __device__ T operator()() const { return value; }
};

template <class To, class From>
void copy_typed(const Tensor& dst, const Tensor& src) {
  launch_elementwise<To, From, 1>("copy", dst, {&src}, IdentityFn<From>{});
}

template <class T>
__global__ void arange_kernel(T* out, int64_t n, double start, double step) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    out[i] = cast<T>(fma(static_cast<double>(i), step, start));
  }
}

}  // namespace

void CudaBackend::copy(const Tensor& dst, const Tensor& src) {
  if (dst.numel() == 0) return;
  if (dst.dtype() == src.dtype() && dst.is_contiguous() && src.is_contiguous()) {
    KernelContext ctx(dst);
    EMBER_CUDA_CHECK(cudaMemcpyAsync(dst.data_ptr(), src.data_ptr(), static_cast<size_t>(dst.numel()) * dst.element_size(),
                                     cudaMemcpyDeviceToDevice, ctx.stream),
                     "copy");
    return;
  }
  dispatch_cuda_dtype(dst.dtype(), "copy", [&]<class To>() {
    dispatch_cuda_dtype(src.dtype(), "copy", [&]<class From>() { copy_typed<To, From>(dst, src); });
  });
}

void CudaBackend::copy_from_host(const Tensor& dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  KernelContext ctx(dst);
  const bool pinned = pinned_contains(src, nbytes);
  EMBER_CUDA_CHECK(cudaMemcpyAsync(dst.data_ptr(), src, nbytes, cudaMemcpyHostToDevice, ctx.stream),
                   "copy to cuda");
  if (pinned) {
    pinned_record_use(src, ctx.device, ctx.stream);
  } else {
    EMBER_CUDA_CHECK(cudaStreamSynchronize(ctx.stream), "copy to cuda");
  }
}

void CudaBackend::copy_to_host(void* dst, const Tensor& src, size_t nbytes) {
  if (nbytes == 0) return;
  KernelContext ctx(src);
  EMBER_CUDA_CHECK(cudaMemcpyAsync(dst, src.data_ptr(), nbytes, cudaMemcpyDeviceToHost, ctx.stream), "copy to cpu");
  EMBER_CUDA_CHECK(cudaStreamSynchronize(ctx.stream), "copy to cpu");
}

void CudaBackend::fill(const Tensor& dst, Scalar value) {
  if (dst.numel() == 0) return;
  dispatch_cuda_dtype(dst.dtype(), "fill", [&]<class T>() {
    const T v = value.is_integral() ? host_value<T>(value.to_int()) : host_value<T>(value.to_double());
    unsigned char zero[sizeof(T)] = {};
    if (dst.is_contiguous() && std::memcmp(static_cast<const void*>(&v), zero, sizeof(T)) == 0) {
      KernelContext ctx(dst);
      EMBER_CUDA_CHECK(cudaMemsetAsync(dst.data_ptr(), 0, static_cast<size_t>(dst.numel()) * sizeof(T), ctx.stream),
                       "fill");
      return;
    }
    launch_elementwise<T, T, 0>("fill", dst, {}, FillFn<T>{v});
  });
}

void CudaBackend::arange(const Tensor& dst, double start, double step) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  EMBER_CHECK(dst.is_contiguous(), "arange", "expects a contiguous output");
  KernelContext ctx(dst);
  dispatch_cuda_dtype(dst.dtype(), "arange", [&]<class T>() {
    arange_kernel<T><<<grid_for(n, 256, ctx.device), 256, 0, ctx.stream>>>(static_cast<T*>(dst.data_ptr()), n, start, step);
    EMBER_CUDA_CHECK_LAUNCH("arange", cat_str("(", n, " elements)"));
  });
}

}  // namespace ember
