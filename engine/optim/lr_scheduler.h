// Learning-rate schedules with torch.optim.lr_scheduler's semantics (1.13):
// constructing a scheduler sets every group's lr to its value at step 0;
// each step() advances one epoch (or one batch for OneCycleLR, see
// per_batch()) and sets the new lr. Each group keeps its own base lr, so
// group learning rates (layer3: 5e-5, layer4: 5e-4, fc: 1e-3) scale together.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/optim/optimizer.h"

namespace ember {

class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& optimizer);
  virtual ~LRScheduler() = default;
  // Advances one epoch (or batch). Schedulers driven by a metric take it here.
  virtual void step();
  virtual void step(double metric);
  virtual std::string name() const = 0;
  // True when step() is meant to run after every batch rather than every epoch.
  virtual bool per_batch() const { return false; }
  std::vector<double> last_lr() const;
  int64_t last_epoch() const { return last_epoch_; }
  // What a checkpoint saves and restores: the step count and the
  // scheduler's own counters.
  virtual std::vector<double> state() const { return {static_cast<double>(last_epoch_)}; }
  virtual void load_state(const std::vector<double>& s);

 protected:
  // The lr of group i at step t (the closed form).
  virtual double lr_at(size_t group, int64_t t) const = 0;
  void apply(int64_t t);
  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  int64_t last_epoch_ = 0;
};

class StepLR final : public LRScheduler {
 public:
  StepLR(Optimizer& opt, int64_t step_size, double gamma = 0.1);
  std::string name() const override { return "step"; }

 private:
  double lr_at(size_t group, int64_t t) const override;
  int64_t step_size_;
  double gamma_;
};

class MultiStepLR final : public LRScheduler {
 public:
  MultiStepLR(Optimizer& opt, std::vector<int64_t> milestones, double gamma = 0.1);
  std::string name() const override { return "multistep"; }

 private:
  double lr_at(size_t group, int64_t t) const override;
  std::vector<int64_t> milestones_;
  double gamma_;
};

// Cosine annealing from the base lr to eta_min over t_max steps, optionally
// after `warmup` steps rising linearly from warmup_start_factor * base
// (PyTorch's SequentialLR of LinearLR(start_factor, total_iters=warmup) then
// CosineAnnealingLR(T_max = t_max - warmup)).
class CosineAnnealingLR final : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& opt, int64_t t_max, double eta_min = 0.0, int64_t warmup = 0,
                    double warmup_start_factor = 1.0 / 3.0);
  std::string name() const override { return "cosine"; }

 private:
  double lr_at(size_t group, int64_t t) const override;
  int64_t t_max_, warmup_;
  double eta_min_, warmup_start_factor_;
};

struct PlateauOptions {
  std::string mode = "min";  // "min": lower metric is better; "max": higher
  double factor = 0.1;
  int64_t patience = 10;
  double threshold = 1e-4;
  std::string threshold_mode = "rel";  // "rel" or "abs"
  int64_t cooldown = 0;
  double min_lr = 0.0;
  double eps = 1e-8;
};

class ReduceLROnPlateau final : public LRScheduler {
 public:
  ReduceLROnPlateau(Optimizer& opt, PlateauOptions options = {});
  void step() override;  // an error: this scheduler needs the metric
  void step(double metric) override;
  std::string name() const override { return "plateau"; }
  std::vector<double> state() const override;
  void load_state(const std::vector<double>& s) override;

 private:
  double lr_at(size_t group, int64_t) const override;
  bool is_better(double a) const;
  PlateauOptions o_;
  double best_;
  int64_t bad_epochs_ = 0, cooldown_counter_ = 0;
};

struct OneCycleOptions {
  double pct_start = 0.3;
  std::string anneal_strategy = "cos";  // "cos" or "linear"
  bool cycle_momentum = true;
  double base_momentum = 0.85, max_momentum = 0.95;
  double div_factor = 25.0, final_div_factor = 1e4;
  bool three_phase = false;
};

// Per-batch schedule rising from max_lr/div_factor to max_lr and annealing to
// a tiny lr over total_steps, cycling momentum the opposite way.
class OneCycleLR final : public LRScheduler {
 public:
  // max_lrs: one per parameter group (or a single value for all).
  OneCycleLR(Optimizer& opt, std::vector<double> max_lrs, int64_t total_steps, OneCycleOptions options = {});
  void step() override;
  std::string name() const override { return "onecycle"; }
  bool per_batch() const override { return true; }

 private:
  double lr_at(size_t group, int64_t t) const override;
  double momentum_at(int64_t t) const;
  double anneal(double start, double end, double pct) const;
  struct Phase {
    double end_step;
    int start_lr, end_lr;  // 0 initial, 1 max, 2 min
    bool momentum_rises;   // momentum goes base -> max in this phase
  };
  // Which phase step t is in and how far through it (0 to 1).
  std::pair<const Phase*, double> locate(int64_t t) const;
  void apply_momentum(int64_t t);
  std::vector<double> max_lrs_;
  int64_t total_steps_;
  OneCycleOptions o_;
  std::vector<Phase> phases_;
};

}  // namespace ember
