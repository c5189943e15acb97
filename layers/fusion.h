// Layer pairs that run as one fused op, with the numbers of the two modules
// run one after the other:
// - a batch norm and its activation: relu(bn(x)), relu6(bn(x)), silu(bn(x))
//   and hardswish(bn(x)) become one batch_norm(..., act) call (engine/ops/norm.h),
//   which neither writes nor keeps the pre-activation tensor. The models
//   call norm_activation where torchvision writes act(bn(x)); Sequential
//   applies it to a BatchNorm2d child followed by a fusable activation.
// - a residual sum and its ReLU: relu(a + b) becomes add_relu(a, b), one
//   pass instead of two.
// - at inference, a convolution, its batch norm and activation (and a
//   residual sum): act(bn(conv(x)) [+ r]) becomes one conv2d_batch_norm call
//   (engine/ops/conv.h), the batch norm folded into the convolution's output.
//   Sequential applies it to a Conv2d child followed by a BatchNorm2d.
// - at inference, a pre-activation layer, act2(bn2(conv(act1(bn1(x))))):
//   one batch_norm_conv2d_batch_norm call (DenseNet's dense layers), whose
//   1x1 product applies bn1 and act1 as it reads x on the CPU.
#pragma once

#include <functional>

#include "engine/backend.h"
#include "layers/module.h"

namespace ember {

// act(norm(x)): fused when `norm` is a BatchNorm2d, `act` an activation with a
// fused form (ReLU, ReLU6, SiLU, Hardswish), fusion is on, and no ForwardObserver is
// installed (model summaries list every module); otherwise the two modules
// one after the other.
Tensor norm_activation(Module& norm, Module& act, const Tensor& x);

// The same with the activation as a function (a model calling relu6 on a
// BatchNorm2d module's output); `act` must not be None.
Tensor norm_activation(Module& norm, FusedActivation act, const Tensor& x);

// Whether the pair can run fused (same conditions as above).
bool can_fuse_norm_activation(const Module& norm, const Module& act);

// relu(a + b) where `relu` is a ReLU module: add_relu when fusion is on and
// no observer is installed, otherwise add, then the module.
Tensor add_then_relu(Module& relu, const Tensor& a, const Tensor& b);

// act(norm(conv(x))) (act may be null: no activation): one conv2d_batch_norm
// call when can_fold_conv_norm holds, otherwise conv, then norm_activation.
Tensor conv_norm_activation_forward(Module& conv, Module& norm, Module* act, const Tensor& x);
// relu(norm(conv(x)) + residual()), a ResNet block's ending: one
// conv2d_batch_norm call with the residual when can_fold_conv_norm holds
// and the residual needs no gradient either; otherwise conv, norm, then the
// residual (computed after them, in the order of torchvision's modules) and
// add_then_relu.
Tensor conv_norm_add_relu(Module& conv, Module& norm, Module& relu, const Tensor& x,
                          const std::function<Tensor()>& residual);

// act2(norm2(conv(act1(norm1(x))))), a pre-activation layer (DenseNet's
// norm1, relu1, conv1, norm2, relu2; act2 may be null): one
// batch_norm_conv2d_batch_norm call when can_fold_conv_norm holds for conv
// and norm2, norm1 is a BatchNorm2d in eval mode with running statistics
// over x's channels that needs no gradient, act1 and act2 have fused forms,
// and conv has no bias; otherwise norm_activation, then
// conv_norm_activation_forward.
Tensor norm_activation_conv_norm_activation_forward(Module& norm1, Module& act1, Module& conv, Module& norm2,
                                                    Module* act2, const Tensor& x);

// Whether norm(conv(x)) can run as one conv2d_batch_norm: `conv` is a Conv2d
// and `norm` a BatchNorm2d over its output channels, in eval mode with
// running statistics; x is 4-D; nothing needs a gradient (grad mode off, or
// neither x nor a parameter requires grad); autocast is off; fusion is on
// and no observer is installed.
bool can_fold_conv_norm(const Module& conv, const Module& norm, const Tensor& x);

// Fusion is on by default; tests and benchmarks turn it off to compare.
bool layer_fusion_enabled();
class LayerFusionGuard {
 public:
  explicit LayerFusionGuard(bool enabled);
  ~LayerFusionGuard();
  LayerFusionGuard(const LayerFusionGuard&) = delete;
  LayerFusionGuard& operator=(const LayerFusionGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace ember
