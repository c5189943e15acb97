#include "layers/fusion.h"

#include <atomic>

#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "layers/activation.h"
#include "layers/batch_norm2d.h"

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

}  // namespace ember
