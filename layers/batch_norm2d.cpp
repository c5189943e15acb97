#include "layers/batch_norm2d.h"

#include "engine/autograd/grad_mode.h"
#include "engine/error.h"
#include "engine/ops/norm.h"

namespace ember {

BatchNorm2d::BatchNorm2d(int64_t n, BatchNormOptions o) : Module("BatchNorm2d"), num_features(n), options(o) {
  EMBER_CHECK(n > 0, "BatchNorm2d", "num_features must be positive, got ", n);
  if (o.affine) {
    weight = register_parameter("weight", ones({n}));
    bias = register_parameter("bias", zeros({n}));
  }
  if (o.track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({n}));
    running_var = register_buffer("running_var", ones({n}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, DType::Int64));
  }
}

Tensor BatchNorm2d::forward(const Tensor& x) { return forward_fused(x, FusedActivation::None); }

Tensor BatchNorm2d::forward_fused(const Tensor& x, FusedActivation act) {
  EMBER_CHECK(x.dim() == 4, "BatchNorm2d", "expected a 4-D input [N, C, H, W], got shape ", x.shape());
  EMBER_CHECK(x.size(1) == num_features, "BatchNorm2d", "expected ", num_features, " channels, got input of shape ",
              x.shape());
  bool use_batch_stats = is_training() || !options.track_running_stats;
  double momentum = options.momentum.value_or(0.0);
  if (is_training() && options.track_running_stats) {
    NoGradGuard no_grad;
    num_batches_tracked.add_(1);
    if (!options.momentum) momentum = 1.0 / static_cast<double>(num_batches_tracked.item<int64_t>());
  }
  // Running stats are updated only while training; eval with tracking uses them.
  bool update = is_training() && options.track_running_stats;
  return batch_norm(x, update || !use_batch_stats ? running_mean : Tensor(),
                    update || !use_batch_stats ? running_var : Tensor(), weight, bias, use_batch_stats, momentum,
                    options.eps, act);
}

std::string BatchNorm2d::extra_repr() const {
  return cat_str(num_features, ", eps=", options.eps, ", momentum=",
                 options.momentum ? cat_str(*options.momentum) : std::string("None"), ", affine=",
                 options.affine ? "True" : "False", ", track_running_stats=",
                 options.track_running_stats ? "True" : "False");
}

}  // namespace ember
