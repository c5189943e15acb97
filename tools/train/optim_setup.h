// The optimizer (with per-prefix parameter groups), the learning-rate
// schedule, the loss and the precision of a training run, from its config.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/autocast.h"
#include "engine/optim/grad_scaler.h"
#include "engine/optim/lr_scheduler.h"
#include "engine/optim/optimizer.h"
#include "layers/loss.h"
#include "layers/module.h"
#include "tools/train/train_config.h"

namespace ember {

// Trainable parameters grouped by optimizer.groups prefixes (each group its
// own lr and weight decay), the rest in a base group at optimizer.lr.
std::vector<ParamGroup> build_param_groups(const Module& model, const TrainConfig& config);

std::unique_ptr<Optimizer> build_optimizer(const Module& model, const TrainConfig& config);

// Null for scheduler.name "none". steps_per_epoch sizes OneCycleLR.
std::unique_ptr<LRScheduler> build_scheduler(Optimizer& optimizer, const TrainConfig& config, int64_t epochs,
                                             int64_t steps_per_epoch);

// Cross entropy (label smoothing, class weights: a list or "balanced" from
// `class_counts`) or BCE with logits.
std::unique_ptr<Loss> build_loss(const TrainConfig& config, const std::vector<int64_t>& class_counts,
                                 int64_t num_classes);

// train.precision: float32, or autocast in float16 (with a loss scaler) or
// bfloat16 (scaler disabled: bfloat16 has float32's range).
struct MixedPrecision {
  std::optional<DType> autocast;  // for AutocastGuard
  GradScalerOptions scaler;
};
MixedPrecision build_mixed_precision(const TrainConfig& config);

}  // namespace ember
