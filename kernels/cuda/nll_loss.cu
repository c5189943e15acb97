// CUDA negative log-likelihood on log-probabilities [N, C] with int64 class
// targets (float, double, half, bfloat16):
//   forward:  loss[n] = -w[t] * logp[n, t], weight_used[n] = w[t] (both 0
//             for ignore_index); one thread per sample.
//   backward: grad_logp is zeroed (cudaMemsetAsync), then one thread per
//             sample writes -w[t] * grad_loss[n] at (n, t).
// Targets outside [0, C) (other than ignore_index) are reported through
// bad_target_flag.cuh, with the CPU's message.
// Memory traffic: per sample one target (8 bytes), one gathered logp and one
// class weight read, two values written; the backward also writes the N x C
// zeros.
#include "kernels/cuda/bad_target_flag.cuh"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/device_types.cuh"

namespace ember {
namespace {

template <class T>
__global__ void nll_forward_kernel(const T* __restrict__ logp, const int64_t* __restrict__ target,
                                   const T* __restrict__ weight, T* __restrict__ loss, T* __restrict__ used, int64_t N,
                                   int64_t C, int64_t ignore_index, unsigned long long* bad) {
  using A = acc_t<T>;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t n = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; n < N; n += step) {
    const int64_t t = target[n];
    if (t == ignore_index) {
      loss[n] = cast<T>(A(0));
      used[n] = cast<T>(A(0));
      continue;
    }
    if (t < 0 || t >= C) {
      flag_bad_target(bad, n);
      loss[n] = cast<T>(A(0));
      used[n] = cast<T>(A(0));
      continue;
    }
    const A w = weight ? cast<A>(weight[t]) : A(1);
    loss[n] = cast<T>(-w * cast<A>(logp[n * C + t]));
    used[n] = cast<T>(w);
  }
}

template <class T>
__global__ void nll_backward_kernel(T* __restrict__ grad_logp, const T* __restrict__ grad_loss,
                                    const int64_t* __restrict__ target, const T* __restrict__ weight, int64_t N,
                                    int64_t C, int64_t ignore_index, unsigned long long* bad) {
  using A = acc_t<T>;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t n = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; n < N; n += step) {
    const int64_t t = target[n];
    if (t == ignore_index) continue;
    if (t < 0 || t >= C) {
      flag_bad_target(bad, n);
      continue;
    }
    const A w = weight ? cast<A>(weight[t]) : A(1);
    grad_logp[n * C + t] = cast<T>(-w * cast<A>(grad_loss[n]));
  }
}

}  // namespace

void CudaBackend::nll_loss_forward(const Tensor& loss, const Tensor& weight_used, const Tensor& logp,
                                   const Tensor& target, const Tensor& weight, int64_t ignore_index) {
  const int64_t N = logp.size(0), C = logp.size(1);
  EMBER_CHECK(target.dtype() == DType::Int64, "nll_loss", "expects int64 targets");
  if (N == 0) return;
  KernelContext ctx(logp);
  BadTargetFlag flag(ctx, "nll_loss");
  dispatch_cuda_floating(logp.dtype(), "nll_loss", [&]<class T>() {
    nll_forward_kernel<T><<<grid_for(N, 256, ctx.device), 256, 0, ctx.stream>>>(
        static_cast<const T*>(logp.data_ptr()), static_cast<const int64_t*>(target.data_ptr()),
        weight.defined() ? static_cast<const T*>(weight.data_ptr()) : nullptr, static_cast<T*>(loss.data_ptr()),
        static_cast<T*>(weight_used.data_ptr()), N, C, ignore_index, flag.get());
    EMBER_CUDA_CHECK_LAUNCH("nll_loss", cat_str("([", N, ", ", C, "])"));
  });
  flag.check(target, C);
}

void CudaBackend::nll_loss_backward(const Tensor& grad_logp, const Tensor& grad_loss, const Tensor& target,
                                    const Tensor& weight, int64_t ignore_index) {
  const int64_t N = grad_logp.size(0), C = grad_logp.size(1);
  EMBER_CHECK(target.dtype() == DType::Int64, "nll_loss_backward", "expects int64 targets");
  if (N * C == 0) return;
  KernelContext ctx(grad_logp);
  EMBER_CUDA_CHECK(cudaMemsetAsync(grad_logp.data_ptr(), 0, static_cast<size_t>(N * C) * grad_logp.element_size(),
                                   ctx.stream),
                   "nll_loss_backward");
  BadTargetFlag flag(ctx, "nll_loss");
  dispatch_cuda_floating(grad_logp.dtype(), "nll_loss_backward", [&]<class T>() {
    nll_backward_kernel<T><<<grid_for(N, 256, ctx.device), 256, 0, ctx.stream>>>(
        static_cast<T*>(grad_logp.data_ptr()), static_cast<const T*>(grad_loss.data_ptr()),
        static_cast<const int64_t*>(target.data_ptr()),
        weight.defined() ? static_cast<const T*>(weight.data_ptr()) : nullptr, N, C, ignore_index, flag.get());
    EMBER_CUDA_CHECK_LAUNCH("nll_loss_backward", cat_str("([", N, ", ", C, "])"));
  });
  flag.check(target, C);
}

}  // namespace ember
