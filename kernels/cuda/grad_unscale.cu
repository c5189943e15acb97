// Gradient unscaling for mixed precision: g[i] *= inv_scale, and
// found_inf[0] = 1 when any g[i] was inf or NaN before scaling.
// Launch shape: one grid-stride launch of 256-thread blocks per gradient,
// all on the current stream, nothing read back here (the scaler reads
// found_inf once per step). A thread that meets a non-finite value stores
// 1.0f; every such store writes the same value, so no atomics are needed.
// Memory traffic: each element is read and written once (2 x sizeof(T)).
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/device_types.cuh"

namespace ember {
namespace {

template <class T>
__global__ void __launch_bounds__(256)
    unscale_kernel(T* __restrict__ g, int64_t n, acc_t<T> inv_scale, float* __restrict__ found_inf) {
  using A = acc_t<T>;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  bool bad = false;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const A v = cast<A>(g[i]);
    bad |= !isfinite(v);
    g[i] = cast<T>(v * inv_scale);
  }
  if (bad) *found_inf = 1.0f;
}

}  // namespace

void CudaBackend::unscale_grads(const std::vector<Tensor>& grads, const Tensor& found_inf, double inv_scale) {
  if (grads.empty()) return;
  KernelContext ctx(found_inf);
  EMBER_CHECK(found_inf.dtype() == DType::Float32 && found_inf.numel() == 1, "unscale_grads",
              "found_inf must be a one-element float32 tensor");
  float* flag = static_cast<float*>(found_inf.data_ptr());
  for (const Tensor& g : grads) {
    EMBER_CHECK(g.device() == found_inf.device(), "unscale_grads", "a gradient is on ", g.device().str(),
                " but found_inf is on ", found_inf.device().str());
    if (g.numel() == 0) continue;
    dispatch_cuda_floating(g.dtype(), "unscale_grads", [&]<class T>() {
      unscale_kernel<T><<<grid_for(g.numel(), 256, ctx.device), 256, 0, ctx.stream>>>(
          static_cast<T*>(g.data_ptr()), g.numel(), static_cast<acc_t<T>>(inv_scale), flag);
      EMBER_CUDA_CHECK_LAUNCH("unscale_grads", cat_str("(gradient of shape ", g.shape(), ")"));
    });
  }
}

}  // namespace ember
