// nn.BatchNorm2d: per-channel weight and bias; running_mean, running_var and
// num_batches_tracked buffers (state_dict names as PyTorch's). Training
// mode normalises with batch statistics and updates the running ones (with
// `momentum`, or a cumulative average when momentum is unset); eval mode
// uses the running statistics.
#pragma once

#include <optional>

#include "engine/backend.h"
#include "layers/module.h"

namespace ember {

struct BatchNormOptions {
  double eps = 1e-5;
  std::optional<double> momentum = 0.1;  // nullopt: cumulative moving average
  bool affine = true;
  bool track_running_stats = true;
};

class BatchNorm2d final : public Module {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions options = {});
  Tensor forward(const Tensor& x) override;
  // forward, then `act`, in one kernel (layers/fusion.h picks it).
  Tensor forward_fused(const Tensor& x, FusedActivation act);
  std::string extra_repr() const override;

  int64_t num_features;
  BatchNormOptions options;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};

}  // namespace ember
