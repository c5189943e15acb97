// CPU batch normalisation on channels-last [N, C, H, W] tensors (memory
// [N*H*W, C]), with the same contract and formulas as batch_norm.cpp; and
// the helpers both files use.
#pragma once

#include "engine/backend.h"

namespace ember {

// An optional tensor's data, or null when it is undefined.
template <class T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.data_ptr()) : nullptr;
}

// Calls f.template operator()<A>() with the activation as a constant.
template <class F>
void dispatch_activation(FusedActivation act, F&& f) {
  switch (act) {
    case FusedActivation::None: return f.template operator()<FusedActivation::None>();
    case FusedActivation::Relu: return f.template operator()<FusedActivation::Relu>();
    case FusedActivation::Relu6: return f.template operator()<FusedActivation::Relu6>();
    case FusedActivation::Silu: return f.template operator()<FusedActivation::Silu>();
    case FusedActivation::Hardswish: return f.template operator()<FusedActivation::Hardswish>();
  }
}

void batch_norm_nhwc_forward_train(const Tensor& out, const Tensor& save_mean, const Tensor& save_invstd,
                                   const Tensor& input, const Tensor& weight, const Tensor& bias,
                                   const Tensor& running_mean, const Tensor& running_var, double momentum, double eps,
                                   FusedActivation act);
void batch_norm_nhwc_forward_eval(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                                  const Tensor& running_mean, const Tensor& running_var, double eps,
                                  FusedActivation act);
void batch_norm_nhwc_backward(const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias,
                              const Tensor& grad_out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                              const Tensor& mean, const Tensor& invstd, bool train, FusedActivation act);

}  // namespace ember
