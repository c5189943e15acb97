// Batch normalisation over [N, C, *] with cuDNN (spatial mode: statistics per
// channel over N and every spatial position), the CUDA backend's batch_norm
// methods:
//   train forward: cudnnBatchNormalizationForwardTraining. Its
//     exponentialAverageFactor is PyTorch's momentum, it updates running_var
//     with the unbiased batch variance (as PyTorch and the CPU backend do),
//     and what it calls the saved inverse variance is 1 / sqrt(var + eps):
//     the invstd the backend contract asks for.
//   eval forward:  cudnnBatchNormalizationForwardInference.
//   backward:      cudnnBatchNormalizationBackward with the saved batch
//     statistics (train = true); with train = false (running statistics as
//     constants) Ember's own kernel (kernels/cuda/batch_norm.cu).
// The input is seen as [N, C, S, 1]. cuDNN wants the per-channel tensors
// (weight, bias, running and saved statistics) in float for float/half/
// bfloat16 inputs and in double for double: absent weight/bias become
// ones/zeros and tensors of another dtype are converted into temporaries
// (running statistics are copied back after the update).
// A fused activation (FusedActivation) runs as Ember's elementwise kernel in
// place on cuDNN's output; in the backward, batch_norm.cu turns the gradient
// of the activation's output into the pre-activation's (recomputed from the
// input) before cuDNN's backward.
#include <cudnn.h>

#include "engine/cuda/cuda_stream.h"
#include "engine/cuda/cudnn_handle.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cudnn/cudnn_descriptors.h"

namespace ember {
namespace {

// Epsilon handed to cudnnBatchNormalizationBackward, which the contract does
// not pass along: with saved statistics given, cuDNN uses those and not eps.
constexpr double kBackwardEpsilon = 1e-5;

struct BnSetup {
  int64_t N, C, S;
  DType param_dtype;
  TensorDescriptor x, param;
  BnSetup(const Tensor& input, const char* op)
      : N(input.size(0)), C(input.size(1)), S(input.numel() / std::max<int64_t>(input.size(0) * input.size(1), 1)),
        param_dtype(input.dtype() == DType::Float64 ? DType::Float64 : DType::Float32) {
    x.set(input.dtype(), N, C, S, 1, op, is_channels_last(input) ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW);
    param.set(param_dtype, 1, C, 1, 1, op);
  }
};

Backend& cuda() { return *cuda_backend_or_null(); }

// `t` in dtype P, or a constant [C] tensor when undefined.
Tensor param_as(const Tensor& t, int64_t C, DType P, double fill_value, Device device) {
  if (t.defined() && t.dtype() == P) return t;
  Tensor out = empty({C}, TensorOptions(P, device));
  if (t.defined()) cuda().copy(out, t);
  else cuda().fill(out, fill_value);
  return out;
}

// Scratch [C] in dtype P for an output that is absent or of another dtype.
Tensor output_as(const Tensor& t, int64_t C, DType P, Device device) {
  if (t.defined() && t.dtype() == P) return t;
  return empty({C}, TensorOptions(P, device));
}

void copy_back(const Tensor& dst, const Tensor& tmp) {
  if (dst.defined() && !dst.is_same(tmp)) cuda().copy(dst, tmp);
}

// out = act(out), in place, by the elementwise kernels.
void apply_activation(const Tensor& out, FusedActivation act) {
  switch (act) {
    case FusedActivation::None: return;
    case FusedActivation::Relu: return cuda().unary(out, out, UnaryOp::Relu, {});
    case FusedActivation::Relu6: return cuda().unary(out, out, UnaryOp::Clamp, {0.0, 6.0});
    case FusedActivation::Silu: return cuda().unary(out, out, UnaryOp::Silu, {});
    case FusedActivation::Hardswish: return cuda().unary(out, out, UnaryOp::Hardswish, {});
  }
}

struct Scalars {
  float one_f = 1.0f, zero_f = 0.0f;
  double one_d = 1.0, zero_d = 0.0;
  const void* one(DType t) const { return t == DType::Float64 ? static_cast<const void*>(&one_d) : &one_f; }
  const void* zero(DType t) const { return t == DType::Float64 ? static_cast<const void*>(&zero_d) : &zero_f; }
};

}  // namespace

void CudaBackend::batch_norm_forward_train(const Tensor& out, const Tensor& save_mean, const Tensor& save_invstd,
                                           const Tensor& input, const Tensor& weight, const Tensor& bias,
                                           const Tensor& running_mean, const Tensor& running_var, double momentum,
                                           double eps, FusedActivation act) {
  const char* op = "batch_norm";
  if (input.numel() == 0) return;
  const Device dev = input.device();
  DeviceGuard guard(dev.index);
  BnSetup s(input, op);
  const DType P = s.param_dtype;
  Tensor w = param_as(weight, s.C, P, 1.0, dev), b = param_as(bias, s.C, P, 0.0, dev);
  Tensor rm = param_as(running_mean, s.C, P, 0.0, dev), rv = param_as(running_var, s.C, P, 1.0, dev);
  Tensor sm = output_as(save_mean, s.C, P, dev), si = output_as(save_invstd, s.C, P, dev);
  Scalars k;
  EMBER_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
                        cudnn_handle(dev.index), CUDNN_BATCHNORM_SPATIAL, k.one(P), k.zero(P), s.x.get(),
                        input.data_ptr(), s.x.get(), out.data_ptr(), s.param.get(), w.data_ptr(), b.data_ptr(),
                        momentum, rm.data_ptr(), rv.data_ptr(), eps, sm.data_ptr(), si.data_ptr()),
                    op);
  if (running_mean.defined()) copy_back(running_mean, rm);
  if (running_var.defined()) copy_back(running_var, rv);
  copy_back(save_mean, sm);
  copy_back(save_invstd, si);
  apply_activation(out, act);
}

void CudaBackend::batch_norm_forward_eval(const Tensor& out, const Tensor& input, const Tensor& weight,
                                          const Tensor& bias, const Tensor& running_mean, const Tensor& running_var,
                                          double eps, FusedActivation act) {
  const char* op = "batch_norm";
  if (input.numel() == 0) return;
  const Device dev = input.device();
  DeviceGuard guard(dev.index);
  BnSetup s(input, op);
  const DType P = s.param_dtype;
  Tensor w = param_as(weight, s.C, P, 1.0, dev), b = param_as(bias, s.C, P, 0.0, dev);
  Tensor rm = param_as(running_mean, s.C, P, 0.0, dev), rv = param_as(running_var, s.C, P, 1.0, dev);
  Scalars k;
  EMBER_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(cudnn_handle(dev.index), CUDNN_BATCHNORM_SPATIAL,
                                                            k.one(P), k.zero(P), s.x.get(), input.data_ptr(),
                                                            s.x.get(), out.data_ptr(), s.param.get(), w.data_ptr(),
                                                            b.data_ptr(), rm.data_ptr(), rv.data_ptr(), eps),
                    op);
  apply_activation(out, act);
}

void CudaBackend::batch_norm_backward(const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias,
                                      const Tensor& grad_out_act, const Tensor& input, const Tensor& weight,
                                      const Tensor& bias, const Tensor& mean, const Tensor& invstd, bool train,
                                      FusedActivation act) {
  const char* op = "batch_norm_backward";
  const Device dev = input.device();
  DeviceGuard guard(dev.index);
  if (input.numel() == 0) {
    if (grad_weight.defined()) cuda().fill(grad_weight, 0);
    if (grad_bias.defined()) cuda().fill(grad_bias, 0);
    return;
  }
  // The gradient at the batch norm's own output: grad_out_act through act'.
  Tensor grad_out = grad_out_act;
  if (act != FusedActivation::None) {
    const DType P = mean.dtype();
    grad_out = empty_like(input);  // the kernels index it as they index the input
    batch_norm_activation_grad_cuda(grad_out, grad_out_act, input,
                                    weight.defined() ? param_as(weight, input.size(1), P, 1.0, dev) : Tensor(),
                                    bias.defined() ? param_as(bias, input.size(1), P, 0.0, dev) : Tensor(), mean,
                                    param_as(invstd, input.size(1), P, 1.0, dev), act);
  }
  if (!train) {
    const DType P = mean.dtype();
    Tensor w = weight.defined() ? param_as(weight, input.size(1), P, 1.0, dev) : Tensor();
    return batch_norm_backward_eval_cuda(grad_input, grad_weight, grad_bias, grad_out, input, w, mean,
                                         param_as(invstd, input.size(1), P, 1.0, dev));
  }
  BnSetup s(input, op);
  const DType P = s.param_dtype;
  Tensor w = param_as(weight, s.C, P, 1.0, dev);
  Tensor mu = param_as(mean, s.C, P, 0.0, dev), is = param_as(invstd, s.C, P, 1.0, dev);
  Tensor dw = output_as(grad_weight, s.C, P, dev), db = output_as(grad_bias, s.C, P, dev);
  Tensor dx = grad_input.defined() ? grad_input : empty_like(input);
  Scalars k;
  EMBER_CUDNN_CHECK(cudnnBatchNormalizationBackward(cudnn_handle(dev.index), CUDNN_BATCHNORM_SPATIAL, k.one(P),
                                                    k.zero(P), k.one(P), k.zero(P), s.x.get(), input.data_ptr(),
                                                    s.x.get(), grad_out.data_ptr(), s.x.get(), dx.data_ptr(),
                                                    s.param.get(), w.data_ptr(), dw.data_ptr(), db.data_ptr(),
                                                    kBackwardEpsilon, mu.data_ptr(), is.data_ptr()),
                    op);
  copy_back(grad_weight, dw);
  copy_back(grad_bias, db);
}

}  // namespace ember
