#include "engine/optim/grad_scaler.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd/grad_mode.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"

namespace ember {
namespace {
const char* kOp = "GradScaler";
}

GradScaler::GradScaler(GradScalerOptions options) : options_(options), scale_(options.init_scale) {
  EMBER_CHECK(std::isfinite(options.init_scale) && options.init_scale > 0, kOp, "init_scale must be positive, got ",
              options.init_scale);
  EMBER_CHECK(options.growth_factor > 1.0, kOp, "growth_factor must be above 1, got ", options.growth_factor);
  EMBER_CHECK(options.backoff_factor > 0.0 && options.backoff_factor < 1.0, kOp,
              "backoff_factor must be in (0, 1), got ", options.backoff_factor);
  EMBER_CHECK(options.growth_interval >= 1, kOp, "growth_interval must be at least 1, got ",
              options.growth_interval);
}

Tensor GradScaler::scale(const Tensor& loss) const {
  if (!options_.enabled) return loss;
  EMBER_CHECK(loss.defined() && is_floating(loss.dtype()), kOp, "scale() needs a floating-point loss");
  return mul(loss, scale_);
}

void GradScaler::unscale_(Optimizer& optimizer) {
  if (!options_.enabled) return;
  PerOptimizer& state = this_step_[&optimizer];
  EMBER_CHECK(!state.unscaled, kOp, "unscale_() was already called on this optimizer since the last update()");
  EMBER_CHECK(!state.stepped, kOp, "unscale_() is being called after step(); call update() first");
  NoGradGuard no_grad;
  // Gradients grouped by device: one flag per device, read once below.
  std::vector<std::pair<Device, std::vector<Tensor>>> by_device;
  std::vector<std::pair<Tensor, Tensor>> copied_back;  // (grad, contiguous copy) for strided grads
  for (const ParamGroup& group : optimizer.param_groups()) {
    for (const Tensor& p : group.params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      EMBER_CHECK(is_floating(g.dtype()), kOp, "a gradient is ", dtype_name(g.dtype()));
      if (!is_non_overlapping_and_dense(g)) {  // the kernels walk each gradient as one flat array
        Tensor c = g.contiguous();
        copied_back.emplace_back(g, c);
        g = c;
      }
      auto it = std::find_if(by_device.begin(), by_device.end(), [&](const auto& e) { return e.first == g.device(); });
      if (it == by_device.end()) it = by_device.insert(by_device.end(), {g.device(), {}});
      it->second.push_back(g);
    }
  }
  const double inv_scale = 1.0 / scale_;
  bool found = false;
  for (auto& [device, grads] : by_device) {
    Tensor flag = zeros({1}, TensorOptions(DType::Float32, device));
    backend(device).unscale_grads(grads, flag, inv_scale);
    found |= flag.item() != 0.0;
  }
  for (auto& [g, c] : copied_back) g.copy_(c);
  state.unscaled = true;
  state.found_inf = found;
}

bool GradScaler::step(Optimizer& optimizer) {
  if (!options_.enabled) {
    optimizer.step();
    return true;
  }
  PerOptimizer& state = this_step_[&optimizer];
  EMBER_CHECK(!state.stepped, kOp, "step() was already called on this optimizer since the last update()");
  if (!state.unscaled) unscale_(optimizer);
  state.stepped = true;
  if (state.found_inf) return false;
  optimizer.step();
  return true;
}

void GradScaler::update() {
  if (!options_.enabled) return;
  EMBER_CHECK(!this_step_.empty(), kOp, "update() found no step() or unscale_() since the last update()");
  bool found = false;
  for (const auto& [opt, state] : this_step_) found |= state.found_inf;
  this_step_.clear();
  if (found) {
    scale_ *= options_.backoff_factor;
    growth_tracker_ = 0;
    ++skipped_;
  } else if (++growth_tracker_ == options_.growth_interval) {
    scale_ *= options_.growth_factor;
    growth_tracker_ = 0;
  }
}

std::map<std::string, double> GradScaler::state_dict() const {
  return {{"scale", scale_},
          {"growth_factor", options_.growth_factor},
          {"backoff_factor", options_.backoff_factor},
          {"growth_interval", static_cast<double>(options_.growth_interval)},
          {"_growth_tracker", static_cast<double>(growth_tracker_)}};
}

void GradScaler::load_state_dict(const std::map<std::string, double>& state) {
  for (const char* key : {"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"}) {
    EMBER_CHECK(state.count(key), kOp, "the saved scaler state has no '", key, "'");
  }
  EMBER_CHECK(std::isfinite(state.at("scale")) && state.at("scale") > 0, kOp, "the saved scale ", state.at("scale"),
              " is not a positive number");
  scale_ = state.at("scale");
  options_.growth_factor = state.at("growth_factor");
  options_.backoff_factor = state.at("backoff_factor");
  options_.growth_interval = static_cast<int64_t>(state.at("growth_interval"));
  growth_tracker_ = static_cast<int64_t>(state.at("_growth_tracker"));
}

}  // namespace ember
