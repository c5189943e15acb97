// Layer pairs that run as one fused op, with the numbers of the two modules
// run one after the other:
// - a batch norm and its activation: relu(bn(x)), relu6(bn(x)), silu(bn(x))
//   and hardswish(bn(x)) become one batch_norm(..., act) call (engine/ops/norm.h),
//   which neither writes nor keeps the pre-activation tensor. The models
//   call norm_activation where torchvision writes act(bn(x)); Sequential
//   applies it to a BatchNorm2d child followed by a fusable activation.
// - a residual sum and its ReLU: relu(a + b) becomes add_relu(a, b), one
//   pass instead of two.
#pragma once

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
