// Gradient clipping as torch.nn.utils: by the global norm over all gradients,
// or elementwise by value.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace ember {

// Scales every .grad by max_norm / (total_norm + 1e-6) when the total
// norm (of order norm_type, 2 by default; inf for the max) exceeds
// max_norm. Returns the total norm before clipping.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);
// Clamps every .grad into [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace ember
