#include "layers/fusion.h"

#include <atomic>

#include "engine/autocast.h"
#include "engine/autograd/node.h"
#include "engine/error.h"
#include "engine/ops/conv.h"
#include "engine/ops/elementwise.h"
#include "layers/activation.h"
#include "layers/batch_norm2d.h"
#include "layers/conv2d.h"

namespace ember {
namespace {
std::atomic<bool> g_fusion{true};
}  // namespace

bool layer_fusion_enabled() { return g_fusion.load(std::memory_order_relaxed); }

LayerFusionGuard::LayerFusionGuard(bool enabled) : previous_(g_fusion.exchange(enabled)) {}
LayerFusionGuard::~LayerFusionGuard() { g_fusion.store(previous_); }

namespace {
// Fusion is on and no observer needs to see each module.
bool fusing() { return layer_fusion_enabled() && !forward_observer_installed(); }
}  // namespace

bool can_fuse_norm_activation(const Module& norm, const Module& act) {
  if (!fusing()) return false;
  const auto* a = dynamic_cast<const Activation*>(&act);
  return dynamic_cast<const BatchNorm2d*>(&norm) != nullptr && a != nullptr && a->fused() != FusedActivation::None;
}

Tensor norm_activation(Module& norm, Module& act, const Tensor& x) {
  if (!can_fuse_norm_activation(norm, act)) return act(norm(x));
  return static_cast<BatchNorm2d&>(norm).forward_fused(x, static_cast<Activation&>(act).fused());
}

Tensor norm_activation(Module& norm, FusedActivation act, const Tensor& x) {
  auto* bn = dynamic_cast<BatchNorm2d*>(&norm);
  if (bn != nullptr && fusing()) return bn->forward_fused(x, act);
  const Tensor h = norm(x);
  switch (act) {
    case FusedActivation::Relu: return relu(h);
    case FusedActivation::Relu6: return relu6(h);
    case FusedActivation::Silu: return silu(h);
    case FusedActivation::Hardswish: return hardswish(h);
    case FusedActivation::None: break;
  }
  fail("norm_activation", "needs an activation (got None)");
}

Tensor add_then_relu(Module& relu, const Tensor& a, const Tensor& b) {
  const auto* act = dynamic_cast<const Activation*>(&relu);
  const bool fusable = act != nullptr && act->fused() == FusedActivation::Relu;
  if (!fusable || !fusing()) return relu(add(a, b));
  return add_relu(a, b);
}

bool can_fold_conv_norm(const Module& conv, const Module& norm, const Tensor& x) {
  if (!fusing() || autocast_enabled() || !x.defined() || x.dim() != 4) return false;
  const auto* c = dynamic_cast<const Conv2d*>(&conv);
  const auto* bn = dynamic_cast<const BatchNorm2d*>(&norm);
  if (c == nullptr || bn == nullptr || bn->is_training() || !bn->options.track_running_stats) return false;
  if (bn->num_features != c->out_channels) return false;
  return !any_requires_grad({x, c->weight, c->bias, bn->weight, bn->bias});
}

namespace {

// conv2d_batch_norm for a pair can_fold_conv_norm accepted.
Tensor folded(Module& conv, Module& norm, FusedActivation act, const Tensor& x, const Tensor& residual) {
  const auto& c = static_cast<const Conv2d&>(conv);
  const auto& bn = static_cast<const BatchNorm2d&>(norm);
  const BatchNormEval eval{bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.options.eps};
  return conv2d_batch_norm(x, c.weight, c.bias, c.options.stride, c.options.padding, c.options.dilation,
                           c.options.groups, eval, act, residual);
}

}  // namespace

Tensor conv_norm_activation_forward(Module& conv, Module& norm, Module* act, const Tensor& x) {
  if (!can_fold_conv_norm(conv, norm, x)) return act ? norm_activation(norm, *act, conv(x)) : norm(conv(x));
  const auto* a = dynamic_cast<const Activation*>(act);
  if (act == nullptr || (a != nullptr && a->fused() != FusedActivation::None)) {
    return folded(conv, norm, act ? a->fused() : FusedActivation::None, x, Tensor());
  }
  return (*act)(folded(conv, norm, FusedActivation::None, x, Tensor()));  // an activation without a fused form
}

Tensor norm_activation_conv_norm_activation_forward(Module& norm1, Module& act1, Module& conv, Module& norm2,
                                                    Module* act2, const Tensor& x) {
  const auto* bn1 = dynamic_cast<const BatchNorm2d*>(&norm1);
  const auto* a1 = dynamic_cast<const Activation*>(&act1);
  const auto* a2 = dynamic_cast<const Activation*>(act2);
  const auto* c = dynamic_cast<const Conv2d*>(&conv);
  const bool fusable = bn1 != nullptr && !bn1->is_training() && bn1->options.track_running_stats &&
                       a1 != nullptr && a1->fused() != FusedActivation::None &&
                       (act2 == nullptr || (a2 != nullptr && a2->fused() != FusedActivation::None)) &&
                       c != nullptr && !c->bias.defined() && can_fold_conv_norm(conv, norm2, x) &&
                       bn1->num_features == x.size(1) && !any_requires_grad({bn1->weight, bn1->bias});
  if (!fusable) return conv_norm_activation_forward(conv, norm2, act2, norm_activation(norm1, act1, x));
  const auto& bn2 = static_cast<const BatchNorm2d&>(norm2);
  const BatchNormEval in_norm{bn1->weight, bn1->bias, bn1->running_mean, bn1->running_var, bn1->options.eps};
  const BatchNormEval out_norm{bn2.weight, bn2.bias, bn2.running_mean, bn2.running_var, bn2.options.eps};
  return batch_norm_conv2d_batch_norm(x, in_norm, a1->fused(), c->weight, c->options.stride, c->options.padding,
                                      c->options.dilation, c->options.groups, out_norm,
                                      a2 ? a2->fused() : FusedActivation::None);
}

Tensor conv_norm_add_relu(Module& conv, Module& norm, Module& relu, const Tensor& x,
                          const std::function<Tensor()>& residual) {
  const auto* a = dynamic_cast<const Activation*>(&relu);
  const bool is_relu = a != nullptr && a->fused() == FusedActivation::Relu;
  if (!is_relu || !can_fold_conv_norm(conv, norm, x)) {
    const Tensor h = norm(conv(x));
    return add_then_relu(relu, h, residual());
  }
  const Tensor r = residual();
  // A residual that needs a gradient (a trainable downsample beside frozen
  // layers), or one the sum would broadcast or promote, takes the modules.
  if (any_requires_grad({r}) || r.dim() != 4 || r.dtype() != x.dtype() || r.device() != x.device()) {
    return add_then_relu(relu, norm(conv(x)), r);
  }
  return folded(conv, norm, FusedActivation::Relu, x, r);
}

}  // namespace ember
