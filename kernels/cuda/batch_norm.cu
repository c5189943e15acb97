// CUDA batch-norm backward in evaluation mode (train = false), where the
// running statistics are constants (cuDNN's backward assumes batch
// statistics, so this case is ours). Over x, dy of shape [N, C, S]:
//   dx[n, c, s] = w[c] * invstd[c] * dy[n, c, s]
//   dw[c]       = sum_{n,s} dy * (x - mean[c]) * invstd[c]
//   db[c]       = sum_{n,s} dy
// Launch shapes: the sums use one 256-thread block per channel (threads
// stride over the N*S values, consecutive threads on consecutive s), sums in
// double, then a block reduction; dx is one thread per element (grid-stride).
// Memory traffic: the sums read x and dy once; dx reads dy once and writes
// dx once.
//
// Also the fused batch norm + activation's first backward step,
//   dpre[n, c, s] = dy[n, c, s] * act'((x - mean[c]) * invstd[c] * w[c] + b[c]),
// one thread per element (grid-stride), reading x and dy once and writing
// dpre once; cuDNN's backward (or the eval one above) then takes dpre.
// Channels-last tensors go through the same kernels as [pixels, C, 1].
#include "engine/cuda/caching_allocator.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/fused_activation.h"

namespace ember {
namespace {

// The kernels index x as [N, C, S]. A channels-last x (memory [pixels, C])
// is the same with N = pixels and S = 1.
struct BnRows {
  int64_t N, C, S;
};
BnRows bn_rows(const Tensor& x) {
  const int64_t C = x.size(1);
  if (is_channels_last(x)) return {x.numel() / std::max<int64_t>(C, 1), C, 1};
  return {x.size(0), C, x.numel() / std::max<int64_t>(x.size(0) * C, 1)};
}

template <class T, class P>
__global__ void __launch_bounds__(256)
    bn_eval_sums_kernel(const T* __restrict__ x, const T* __restrict__ dy, const P* __restrict__ mean,
                        const P* __restrict__ invstd, double* __restrict__ dw, double* __restrict__ db, int64_t N,
                        int64_t C, int64_t S) {
  const int64_t c = blockIdx.x;
  const double mu = cast<double>(mean[c]);
  double sum_g = 0, sum_gx = 0;
  for (int64_t k = threadIdx.x; k < N * S; k += blockDim.x) {
    const int64_t n = k / S, s = k % S;
    const int64_t i = (n * C + c) * S + s;
    const double g = cast<double>(dy[i]);
    sum_g += g;
    sum_gx += g * (cast<double>(x[i]) - mu);
  }
  __shared__ double shared[32];
  sum_g = block_allreduce(sum_g, SumFn{}, 0.0, shared);
  sum_gx = block_allreduce(sum_gx, SumFn{}, 0.0, shared);
  if (threadIdx.x == 0) {
    dw[c] = sum_gx * cast<double>(invstd[c]);
    db[c] = sum_g;
  }
}

template <class T, class P>
__global__ void __launch_bounds__(256)
    bn_eval_dx_kernel(const T* __restrict__ dy, const P* __restrict__ weight, const P* __restrict__ invstd,
                      T* __restrict__ dx, int64_t total, int64_t C, int64_t S) {
  using A = acc_t<T>;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t c = (i / S) % C;
    const A scale = static_cast<A>(cast<A>(invstd[c]) * (weight ? cast<A>(weight[c]) : A(1)));
    dx[i] = cast<T>(scale * cast<A>(dy[i]));
  }
}

template <class T, class P>
__global__ void __launch_bounds__(256)
    bn_activation_grad_kernel(const T* __restrict__ dy, const T* __restrict__ x, const P* __restrict__ weight,
                              const P* __restrict__ bias, const P* __restrict__ mean, const P* __restrict__ invstd,
                              T* __restrict__ dpre, int64_t total, int64_t C, int64_t S, FusedActivation act) {
  using A = acc_t<T>;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t c = (i / S) % C;
    const A scale = cast<A>(invstd[c]) * (weight ? cast<A>(weight[c]) : A(1));
    const A shift = (bias ? cast<A>(bias[c]) : A(0)) - cast<A>(mean[c]) * scale;
    const A pre = cast<A>(x[i]) * scale + shift;
    dpre[i] = cast<T>(math::fused_activation_backward(cast<A>(dy[i]), pre, act));
  }
}

}  // namespace

void batch_norm_activation_grad_cuda(const Tensor& grad_pre, const Tensor& grad_out, const Tensor& input,
                                     const Tensor& weight, const Tensor& bias, const Tensor& mean,
                                     const Tensor& invstd, FusedActivation act) {
  const BnRows rows = bn_rows(input);
  const int64_t C = rows.C, S = rows.S;
  if (input.numel() == 0) return;
  KernelContext ctx(input);
  for (const Tensor* t : {&weight, &bias, &invstd}) {
    EMBER_CHECK(!t->defined() || t->dtype() == mean.dtype(), "batch_norm_backward",
                "weight, bias, mean and invstd must share one dtype");
  }
  dispatch_cuda_floating(input.dtype(), "batch_norm_backward", [&]<class T>() {
    dispatch_cuda_floating(mean.dtype(), "batch_norm_backward", [&]<class P>() {
      auto param = [](const Tensor& t) { return t.defined() ? static_cast<const P*>(t.data_ptr()) : nullptr; };
      bn_activation_grad_kernel<T, P><<<grid_for(input.numel(), 256, ctx.device), 256, 0, ctx.stream>>>(
          static_cast<const T*>(grad_out.data_ptr()), static_cast<const T*>(input.data_ptr()), param(weight),
          param(bias), param(mean), param(invstd), static_cast<T*>(grad_pre.data_ptr()), input.numel(), C, S, act);
      EMBER_CUDA_CHECK_LAUNCH("batch_norm_backward", cat_str("(fused activation, input ", input.shape(), ")"));
    });
  });
}

void batch_norm_backward_eval_cuda(const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias,
                                   const Tensor& grad_out, const Tensor& input, const Tensor& weight,
                                   const Tensor& mean, const Tensor& invstd) {
  const BnRows rows = bn_rows(input);
  const int64_t N = rows.N, C = rows.C, S = rows.S;
  if (C == 0) return;
  KernelContext ctx(input);
  EMBER_CHECK(mean.dtype() == invstd.dtype() && (!weight.defined() || weight.dtype() == mean.dtype()),
              "batch_norm_backward", "weight, mean and invstd must share one dtype");
  dispatch_cuda_floating(input.dtype(), "batch_norm_backward", [&]<class T>() {
    dispatch_cuda_floating(mean.dtype(), "batch_norm_backward", [&]<class P>() {
      const T* x = static_cast<const T*>(input.data_ptr());
      const T* dy = static_cast<const T*>(grad_out.data_ptr());
      const P* mu = static_cast<const P*>(mean.data_ptr());
      const P* is = static_cast<const P*>(invstd.data_ptr());
      const P* w = weight.defined() ? static_cast<const P*>(weight.data_ptr()) : nullptr;
      if (grad_weight.defined() || grad_bias.defined()) {
        // Sums in double, then converted into whatever dtype the gradients have.
        Tensor sums = empty({2, C}, TensorOptions(DType::Float64, input.device()));
        double* dw = static_cast<double*>(sums.data_ptr());
        bn_eval_sums_kernel<T, P><<<static_cast<unsigned>(C), 256, 0, ctx.stream>>>(x, dy, mu, is, dw, dw + C, N, C, S);
        EMBER_CUDA_CHECK_LAUNCH("batch_norm_backward", cat_str("(input ", input.shape(), ")"));
        if (grad_weight.defined()) cuda_backend_or_null()->copy(grad_weight, sums.select(0, 0));
        if (grad_bias.defined()) cuda_backend_or_null()->copy(grad_bias, sums.select(0, 1));
      }
      if (grad_input.defined() && input.numel() > 0) {
        bn_eval_dx_kernel<T, P><<<grid_for(input.numel(), 256, ctx.device), 256, 0, ctx.stream>>>(
            dy, w, is, static_cast<T*>(grad_input.data_ptr()), input.numel(), C, S);
        EMBER_CUDA_CHECK_LAUNCH("batch_norm_backward", cat_str("(input ", input.shape(), ")"));
      }
    });
  });
}

}  // namespace ember
