// The per-element update rules of the fused optimizer steps, written once
// for the CPU (kernels/cpu/optimizer_step.cpp) and CUDA
// (kernels/cuda/optimizer_step.cu) backends. They are torch.optim's
// single-tensor formulas (PyTorch 1.13, torch/optim/sgd.py and adam.py) in
// the same order of operations, computed in the parameter's type, so a
// fused step agrees with PyTorch's unfused one to a rounding or two.
#pragma once

#include <cmath>

#include "engine/backend.h"              // SgdScalars, AdamScalars
#include "kernels/elementwise_math.h"  // EMBER_HD

namespace ember::math {

using std::sqrt;  // the float overload for float

// The scalars of a step converted to the parameter's type once, so the
// per-element loops read them from registers (and vectorise on the CPU).
template <class T>
struct SgdConstants {
  T neg_lr, weight_decay, momentum, one_minus_dampening;
  bool decay, has_momentum, nesterov, init_buffer;
};

template <class T>
EMBER_HD SgdConstants<T> sgd_constants(const SgdScalars& s) {
  return {static_cast<T>(-s.lr),           static_cast<T>(s.weight_decay), static_cast<T>(s.momentum),
          static_cast<T>(1 - s.dampening), s.weight_decay != 0,            s.momentum != 0,
          s.nesterov,                      s.init_buffer};
}

// p -= lr * d, with d = g + wd p, and with momentum
//   buf = init ? d : momentum buf + (1 - dampening) d;  d = nesterov ? d + momentum buf : buf.
template <class T>
EMBER_HD void sgd_update(T& p, T g, T& buf, const SgdConstants<T>& c) {
  T d = c.decay ? g + c.weight_decay * p : g;
  if (c.has_momentum) {
    buf = c.init_buffer ? d : buf * c.momentum + c.one_minus_dampening * d;
    d = c.nesterov ? d + c.momentum * buf : buf;
  }
  p = p + c.neg_lr * d;
}

template <class T>
struct AdamConstants {
  T weight_decay, keep, beta1, one_minus_beta1, beta2, one_minus_beta2, sqrt_bias_correction2, eps, neg_step_size;
  bool coupled_decay, decoupled_decay;
};

template <class T>
EMBER_HD AdamConstants<T> adam_constants(const AdamScalars& s) {
  const bool decay = s.weight_decay != 0;
  return {static_cast<T>(s.weight_decay),
          static_cast<T>(1 - s.lr * s.weight_decay),
          static_cast<T>(s.beta1),
          static_cast<T>(1 - s.beta1),
          static_cast<T>(s.beta2),
          static_cast<T>(1 - s.beta2),
          static_cast<T>(sqrt(s.bias_correction2)),
          static_cast<T>(s.eps),
          static_cast<T>(-s.lr / s.bias_correction1),
          decay && !s.decoupled_weight_decay,
          decay && s.decoupled_weight_decay};
}

// Adam (AdamW with decoupled weight decay):
//   p *= 1 - lr wd (AdamW) or g += wd p (Adam);
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;  vmax = max(vmax, v) (AMSGrad)
//   p -= lr / bc1 * m / (sqrt(v or vmax) / sqrt(bc2) + eps).
template <class T, bool kAmsgrad>
EMBER_HD void adam_update(T& p, T g, T& m, T& v, T& vmax, const AdamConstants<T>& c) {
  if (c.coupled_decay) g = g + c.weight_decay * p;
  if (c.decoupled_decay) p = p * c.keep;
  m = m * c.beta1 + c.one_minus_beta1 * g;
  v = v * c.beta2 + c.one_minus_beta2 * (g * g);
  T second = v;
  if constexpr (kAmsgrad) {
    vmax = vmax > v ? vmax : v;
    second = vmax;
  }
  const T denom = sqrt(second) / c.sqrt_bias_correction2 + c.eps;
  p = p + c.neg_step_size * (m / denom);
}

}  // namespace ember::math
