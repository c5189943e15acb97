// Dynamic loss scaling for float16 training (torch.cuda.amp.GradScaler).
//
// float16 stops at 65,504 and loses gradients below 6e-8 to zero. The
// scaler multiplies the loss by a scale S before backward, so the 16-bit
// gradients sit in float16's range; step() divides the (float32 master)
// gradients by S and skips the update when any of them is inf or NaN (S was
// too large for this batch); update() halves S after a skipped step and
// doubles it after growth_interval steps in a row without one. bfloat16 has
// float32's range and needs none of this: a disabled scaler passes
// everything through.
//
//   Tensor loss;
//   { AutocastGuard amp(DType::Float16); loss = loss_fn(model(x), y); }
//   scaler.scale(loss).backward();
//   scaler.unscale_(opt);            // optional: only to clip true gradients
//   clip_grad_norm_(params, 1.0);
//   scaler.step(opt);                // skipped when a gradient is inf/NaN
//   scaler.update();
#pragma once

#include <map>
#include <string>

#include "engine/optim/optimizer.h"

namespace ember {

struct GradScalerOptions {
  double init_scale = 65536.0;
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
  bool enabled = true;
};

class GradScaler {
 public:
  explicit GradScaler(GradScalerOptions options = {});
  bool enabled() const { return options_.enabled; }

  // loss * S (the loss itself when disabled).
  Tensor scale(const Tensor& loss) const;
  // Divides the optimizer's gradients by S in place, once between updates.
  void unscale_(Optimizer& optimizer);
  // unscale_ (unless done), then optimizer.step() unless a gradient was inf
  // or NaN. Returns whether the optimizer stepped.
  bool step(Optimizer& optimizer);
  // Adjusts S from this step's findings; every step() must be followed by one.
  void update();

  double get_scale() const { return scale_; }
  int64_t growth_tracker() const { return growth_tracker_; }  // clean steps since the last change
  int64_t skipped_steps() const { return skipped_; }          // over the scaler's life, for logs

  // What a checkpoint saves: scale, growth_factor, backoff_factor,
  // growth_interval and _growth_tracker (PyTorch's keys).
  std::map<std::string, double> state_dict() const;
  void load_state_dict(const std::map<std::string, double>& state);

 private:
  struct PerOptimizer {
    bool unscaled = false, stepped = false, found_inf = false;
  };
  GradScalerOptions options_;
  double scale_;
  int64_t growth_tracker_ = 0, skipped_ = 0;
  std::map<const Optimizer*, PerOptimizer> this_step_;
};

}  // namespace ember
