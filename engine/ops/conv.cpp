#include "engine/ops/conv.h"

#include "engine/autocast.h"
#include "engine/autograd/node.h"
#include "engine/backend.h"
#include "engine/error.h"

namespace ember {

int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  return (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
}

namespace {

// A checked convolution call: its operands laid out alike and its output allocated.
struct ConvCall {
  Tensor x, w, b, out;
  Conv2dParams p;
  MemoryFormat format;
};

ConvCall prepare_conv(const char* op, const Tensor& input, const Tensor& weight, const Tensor& bias, Pair stride,
                      Pair padding, Pair dilation, int64_t groups) {
  EMBER_CHECK(input.dim() == 4, op, "expected a 4-D input [N, C, H, W] (or 3-D [C, H, W]), got shape ", input.shape());
  EMBER_CHECK(weight.dim() == 4, op, "expected a 4-D weight [out_channels, in_channels/groups, kH, kW], got shape ",
              weight.shape());
  EMBER_CHECK(input.device() == weight.device(), op, "input on ", input.device().str(), " but weight on ",
              weight.device().str());
  EMBER_CHECK(input.dtype() == weight.dtype(), op, "input is ", dtype_name(input.dtype()), " but weight is ",
              dtype_name(weight.dtype()));
  EMBER_CHECK(groups >= 1, op, "groups must be positive, got ", groups);
  for (int i = 0; i < 2; ++i) {
    EMBER_CHECK(stride[i] >= 1 && dilation[i] >= 1 && padding[i] >= 0, op, "invalid stride ", stride[i],
                ", padding ", padding[i], " or dilation ", dilation[i]);
  }
  const int64_t C = input.size(1), OC = weight.size(0);
  EMBER_CHECK(C % groups == 0 && OC % groups == 0, op, "in_channels ", C, " and out_channels ", OC,
              " must both be divisible by groups ", groups);
  EMBER_CHECK(weight.size(1) * groups == C, op, "weight of shape ", weight.shape(), " expects ",
              weight.size(1) * groups, " input channels, but the input of shape ", input.shape(), " has ", C);
  if (bias.defined()) {
    EMBER_CHECK(bias.dim() == 1 && bias.size(0) == OC, op, "bias of shape ", bias.shape(), " does not match ", OC,
                " output channels");
    EMBER_CHECK(bias.device() == input.device() && bias.dtype() == input.dtype(), op,
                "bias must be on the input's device and of its dtype");
  }
  const int64_t OH = conv_output_size(input.size(2), weight.size(2), stride[0], padding[0], dilation[0]);
  const int64_t OW = conv_output_size(input.size(3), weight.size(3), stride[1], padding[1], dilation[1]);
  EMBER_CHECK(OH > 0 && OW > 0, op, "the kernel ", weight.size(2), "x", weight.size(3), " (dilation ", dilation[0],
              "x", dilation[1], ") is larger than the padded input ", input.size(2) + 2 * padding[0], "x",
              input.size(3) + 2 * padding[1], " (input shape ", input.shape(), ")");

  // Channels-last when the input or the weight is (as torch decides): then
  // every tensor of the call, the gradients included, is laid out NHWC.
  ConvCall call;
  call.format = is_channels_last(input) || is_channels_last(weight) ? MemoryFormat::ChannelsLast
                                                                     : MemoryFormat::Contiguous;
  call.p = Conv2dParams{stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1], groups,
                        call.format == MemoryFormat::ChannelsLast};
  call.x = input.detach().contiguous(call.format);
  call.w = weight.detach().contiguous(call.format);
  call.b = bias.defined() ? bias.detach().contiguous() : Tensor();
  call.out = empty({input.size(0), OC, OH, OW}, TensorOptions(input.dtype(), input.device()), call.format);
  return call;
}

}  // namespace

Tensor conv2d(const Tensor& input_arg, const Tensor& weight_arg, const Tensor& bias_arg, Pair stride, Pair padding,
              Pair dilation, int64_t groups) {
  const char* op = "conv2d";
  // Under autocast the convolution runs in the 16-bit type (engine/autocast.h).
  const Tensor input = autocast_to_lower(input_arg), weight = autocast_to_lower(weight_arg),
               bias = autocast_to_lower(bias_arg);
  EMBER_CHECK(input.defined() && weight.defined(), op, "got an undefined input or weight");
  if (input.dim() == 3) {  // one unbatched image
    return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0);
  }
  ConvCall call = prepare_conv(op, input, weight, bias, stride, padding, dilation, groups);
  const Tensor &x = call.x, &w = call.w, &b = call.b, &out = call.out;
  const Conv2dParams p = call.p;
  const MemoryFormat format = call.format;
  if (out.numel() > 0) backend(input.device()).conv2d_forward(out, x, w, b, p);

  if (any_requires_grad({input, weight, bias})) {
    record("Conv2dBackward", out, {input, weight, bias},
           [sx = Saved(x), sw = Saved(w), p, format](const Tensor& g_in, const NeedsGrad& needs) {
             const Tensor& xs = sx.get();
             const Tensor& ws = sw.get();
             Tensor g = g_in.contiguous(format);
             Backend& be = backend(g.device());
             std::vector<Tensor> grads(3);
             if (needs[0]) {
               grads[0] = empty(xs.shape(), TensorOptions(xs.dtype(), xs.device()), format);
               if (xs.numel() > 0) be.conv2d_backward_input(grads[0], g, ws, p);
             }
             if (needs[1]) {
               grads[1] = empty(ws.shape(), TensorOptions(ws.dtype(), ws.device()), format);
               be.conv2d_backward_weight(grads[1], g, xs, p);
             }
             if (needs[2]) {
               grads[2] = empty({ws.size(0)}, TensorOptions(ws.dtype(), ws.device()));
               be.conv2d_backward_bias(grads[2], g);
             }
             return grads;
           });
  }
  return out;
}

namespace {

// A batch norm's evaluation tensors checked against `channels` (named by
// `which`: "input" or "output") and the input's device and dtype, made
// contiguous.
BatchNormEval checked_eval_norm(const char* op, const BatchNormEval& bn, int64_t channels, const char* which,
                                const Tensor& input) {
  EMBER_CHECK(bn.eps >= 0, op, "eps must be non-negative, got ", bn.eps);
  EMBER_CHECK(bn.running_mean.defined() && bn.running_var.defined(), op,
              "needs the batch norm's running_mean and running_var");
  for (const Tensor* t : {&bn.weight, &bn.bias, &bn.running_mean, &bn.running_var}) {
    if (!t->defined()) continue;
    EMBER_CHECK(t->dim() == 1 && t->size(0) == channels, op, "batch-norm tensor of shape ", t->shape(),
                " does not match ", channels, " ", which, " channels");
    EMBER_CHECK(t->device() == input.device(), op, "batch-norm tensors must be on the input's device (",
                input.device().str(), "), got ", t->device().str());
    const bool mixed = is_16bit_float(input.dtype()) && t->dtype() == DType::Float32;
    EMBER_CHECK(t->dtype() == input.dtype() || mixed, op, "a batch-norm tensor is ", dtype_name(t->dtype()),
                " but the input is ", dtype_name(input.dtype()),
                " (a 16-bit input may have float32 batch-norm tensors; nothing else mixes)");
  }
  return BatchNormEval{bn.weight.defined() ? bn.weight.contiguous() : Tensor(),
                       bn.bias.defined() ? bn.bias.contiguous() : Tensor(), bn.running_mean.contiguous(),
                       bn.running_var.contiguous(), bn.eps};
}

}  // namespace

Tensor conv2d_batch_norm(const Tensor& input, const Tensor& weight, const Tensor& bias, Pair stride, Pair padding,
                         Pair dilation, int64_t groups, const BatchNormEval& bn, FusedActivation act,
                         const Tensor& residual) {
  const char* op = "conv2d_batch_norm";
  EMBER_CHECK(input.defined() && weight.defined(), op, "got an undefined input or weight");
  EMBER_CHECK(!any_requires_grad({input, weight, bias, bn.weight, bn.bias, residual}), op,
              "computes no gradients (an inference op); under autograd run conv2d and batch_norm, or call it "
              "inside NoGradGuard");
  ConvCall call = prepare_conv(op, input, weight, bias, stride, padding, dilation, groups);
  const BatchNormEval norm = checked_eval_norm(op, bn, weight.size(0), "output", input);
  Tensor r;
  if (residual.defined()) {
    EMBER_CHECK(residual.shape() == call.out.shape(), op, "the residual of shape ", residual.shape(),
                " does not match the output's ", call.out.shape());
    EMBER_CHECK(residual.device() == input.device() && residual.dtype() == input.dtype(), op,
                "the residual must be on the input's device and of its dtype");
    EMBER_CHECK(act == FusedActivation::None || act == FusedActivation::Relu, op,
                "a residual sum takes no activation or ReLU");
    r = residual.contiguous(call.format);
  }
  if (call.out.numel() > 0) {
    backend(input.device()).conv2d_forward_batch_norm(call.out, call.x, call.w, call.b, call.p, norm, act, r);
  }
  return call.out;
}

Tensor batch_norm_conv2d_batch_norm(const Tensor& input, const BatchNormEval& input_bn, FusedActivation input_act,
                                    const Tensor& weight, Pair stride, Pair padding, Pair dilation, int64_t groups,
                                    const BatchNormEval& bn, FusedActivation act) {
  const char* op = "batch_norm_conv2d_batch_norm";
  EMBER_CHECK(input.defined() && weight.defined(), op, "got an undefined input or weight");
  EMBER_CHECK(!any_requires_grad({input, weight, input_bn.weight, input_bn.bias, bn.weight, bn.bias}), op,
              "computes no gradients (an inference op); under autograd run batch_norm and conv2d, or call it "
              "inside NoGradGuard");
  ConvCall call = prepare_conv(op, input, weight, Tensor(), stride, padding, dilation, groups);
  const BatchNormEval in_norm = checked_eval_norm(op, input_bn, call.x.size(1), "input", input);
  const BatchNormEval norm = checked_eval_norm(op, bn, weight.size(0), "output", input);
  if (call.out.numel() > 0) {
    backend(input.device())
        .conv2d_forward_normalized_input(call.out, call.x, in_norm, input_act, call.w, call.p, norm, act);
  }
  return call.out;
}

}  // namespace ember
