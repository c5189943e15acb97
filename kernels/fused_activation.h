// The activations a kernel can apply in its own pass (FusedActivation), and
// their derivatives taken at the pre-activation value, for the CPU and CUDA
// backends alike. The formulas are the ones of elementwise_math.h, so a
// fused batch norm + ReLU gives the numbers of batch norm, then ReLU.
#pragma once

#include "engine/backend.h"
#include "kernels/elementwise_math.h"

namespace ember::math {

template <class C>
EMBER_HD C fused_activation(C x, FusedActivation act) {
  switch (act) {
    case FusedActivation::Relu: return relu(x);
    case FusedActivation::Relu6: return clamp(x, C(0), C(6));
    case FusedActivation::Silu: return silu(x);
    case FusedActivation::Hardswish: return hardswish(x);
    default: return x;
  }
}

// g times the activation's derivative at the pre-activation value x.
template <class C>
EMBER_HD C fused_activation_backward(C g, C x, FusedActivation act) {
  switch (act) {
    case FusedActivation::Relu: return x > C(0) ? g : C(0);
    case FusedActivation::Relu6: return (x > C(0) && x < C(6)) ? g : C(0);
    case FusedActivation::Silu: return silu_backward(g, x);
    case FusedActivation::Hardswish: return hardswish_backward(g, x);
    default: return g;
  }
}

}  // namespace ember::math
