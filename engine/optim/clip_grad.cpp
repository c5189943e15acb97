#include "engine/optim/clip_grad.h"

#include <cmath>
#include <limits>

#include "engine/autograd/grad_mode.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"

namespace ember {

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  EMBER_CHECK(max_norm >= 0, "clip_grad_norm_", "max_norm must be non-negative, got ", max_norm);
  EMBER_CHECK(norm_type > 0, "clip_grad_norm_", "norm_type must be positive, got ", norm_type);
  NoGradGuard no_grad;
  const bool inf = std::isinf(norm_type);
  // The per-parameter norms add up on the gradients' device, in float64, and
  // are read back once: on a GPU each read waits for the device.
  Tensor acc;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    Tensor part = inf ? max(abs(g)).to(DType::Float64) : sum(pow(abs(g.to(DType::Float64)), norm_type));
    if (!acc.defined()) {
      acc = part;
    } else {
      part = part.to(acc.device());
      acc = inf ? maximum(acc, part) : add(acc, part);
    }
  }
  double total = acc.defined() ? acc.item() : 0.0;
  if (!inf) total = std::pow(total, 1.0 / norm_type);
  double coef = max_norm / (total + 1e-6);
  if (coef < 1.0) {
    for (const Tensor& p : params) {
      Tensor g = p.grad();
      if (g.defined()) g.mul_(coef);
    }
  }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  EMBER_CHECK(clip_value >= 0, "clip_grad_value_", "clip_value must be non-negative, got ", clip_value);
  NoGradGuard no_grad;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (g.defined()) g.clamp_(-clip_value, clip_value);
  }
}

}  // namespace ember
