#include "engine/backend.h"

#include "engine/error.h"
#include "engine/memory_format.h"

namespace ember {

Backend& backend(Device device) {
  if (device.is_cpu()) return cpu_backend();
  Backend* cuda = cuda_backend_or_null();
  if (!cuda) {
    fail("cuda", "this Ember was built without CUDA (configure with the CUDA toolkit, cuDNN and cuBLAS present, "
                 "and without -DEMBER_CUDA=OFF)");
  }
  int count = cuda->device_count();
  if (device.index < 0 || device.index >= count) {
    if (count == 0) fail("cuda", "no CUDA device is present (no GPU, or no driver); use the cpu device");
    fail("cuda", "device ", device.str(), " does not exist (", count, " CUDA devices present)");
  }
  return *cuda;
}

void Backend::conv2d_forward_batch_norm(const Tensor& out, const Tensor& input, const Tensor& weight,
                                        const Tensor& bias, const Conv2dParams& p, const BatchNormEval& bn,
                                        FusedActivation act, const Tensor& residual) {
  const MemoryFormat format = is_channels_last(out) ? MemoryFormat::ChannelsLast : MemoryFormat::Contiguous;
  const Tensor conv = empty(out.shape(), TensorOptions(out.dtype(), out.device()), format);
  conv2d_forward(conv, input, weight, bias, p);
  if (!residual.defined()) {
    return batch_norm_forward_eval(out, conv, bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.eps, act);
  }
  EMBER_CHECK(act == FusedActivation::None || act == FusedActivation::Relu, "conv2d_batch_norm",
              "a residual sum takes no activation or ReLU");
  batch_norm_forward_eval(out, conv, bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.eps,
                          FusedActivation::None);
  binary(out, out, residual, act == FusedActivation::Relu ? BinaryOp::AddRelu : BinaryOp::Add, OpParams{});
}

void Backend::conv2d_forward_normalized_input(const Tensor& out, const Tensor& input, const BatchNormEval& input_bn,
                                              FusedActivation input_act, const Tensor& weight, const Conv2dParams& p,
                                              const BatchNormEval& bn, FusedActivation act) {
  const MemoryFormat format = is_channels_last(input) ? MemoryFormat::ChannelsLast : MemoryFormat::Contiguous;
  const Tensor normalised = empty(input.shape(), TensorOptions(input.dtype(), input.device()), format);
  batch_norm_forward_eval(normalised, input, input_bn.weight, input_bn.bias, input_bn.running_mean,
                          input_bn.running_var, input_bn.eps, input_act);
  conv2d_forward_batch_norm(out, normalised, weight, Tensor(), p, bn, act, Tensor());
}

#ifndef EMBER_WITH_CUDA
Backend* cuda_backend_or_null() { return nullptr; }
#endif

}  // namespace ember
