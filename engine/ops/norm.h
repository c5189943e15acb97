// Batch normalisation (torch.nn.functional.batch_norm) over [N, C, *].
#pragma once

#include "engine/backend.h"
#include "engine/tensor.h"

namespace ember {

// training: normalise with the batch statistics and, when the running
// tensors are given, update them in place (running_var with the unbiased
// variance); otherwise normalise with the running statistics. `act`
// applies ReLU, ReLU6, SiLU or Hardswish to the result in the same kernel: the numbers
// of relu(batch_norm(...)) without the intermediate tensor, forward or
// backward.
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool training = false,
                  double momentum = 0.1, double eps = 1e-5, FusedActivation act = FusedActivation::None);

}  // namespace ember
