#include "engine/optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/error.h"

namespace ember {

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
  for (const ParamGroup& g : optimizer.param_groups()) base_lrs_.push_back(g.lr);
}

void LRScheduler::apply(int64_t t) {
  auto& groups = optimizer_.param_groups();
  for (size_t i = 0; i < groups.size(); ++i) groups[i].lr = lr_at(i, t);
}

void LRScheduler::step() {
  ++last_epoch_;
  apply(last_epoch_);
}

void LRScheduler::step(double) { step(); }

std::vector<double> LRScheduler::last_lr() const {
  std::vector<double> lrs;
  for (const ParamGroup& g : optimizer_.param_groups()) lrs.push_back(g.lr);
  return lrs;
}

void LRScheduler::load_state(const std::vector<double>& s) {
  EMBER_CHECK(!s.empty(), "scheduler", "empty state for ", name());
  last_epoch_ = static_cast<int64_t>(s[0]);
  apply(last_epoch_);
}

// --- StepLR, MultiStepLR ---

StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma) : LRScheduler(opt), step_size_(step_size), gamma_(gamma) {
  EMBER_CHECK(step_size > 0, "StepLR", "step_size must be positive, got ", step_size);
  apply(0);
}

double StepLR::lr_at(size_t g, int64_t t) const {
  return base_lrs_[g] * std::pow(gamma_, static_cast<double>(t / step_size_));
}

MultiStepLR::MultiStepLR(Optimizer& opt, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(opt), milestones_(std::move(milestones)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());
  apply(0);
}

double MultiStepLR::lr_at(size_t g, int64_t t) const {
  auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), t) - milestones_.begin();
  return base_lrs_[g] * std::pow(gamma_, static_cast<double>(passed));
}

// --- Cosine with optional linear warm-up ---

CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, int64_t t_max, double eta_min, int64_t warmup,
                                     double warmup_start_factor)
    : LRScheduler(opt), t_max_(t_max), warmup_(warmup), eta_min_(eta_min), warmup_start_factor_(warmup_start_factor) {
  EMBER_CHECK(t_max > 0, "CosineAnnealingLR", "T_max must be positive, got ", t_max);
  EMBER_CHECK(warmup >= 0 && warmup < t_max, "CosineAnnealingLR", "warm-up of ", warmup,
              " steps must be shorter than T_max ", t_max);
  apply(0);
}

double CosineAnnealingLR::lr_at(size_t g, int64_t t) const {
  double base = base_lrs_[g];
  if (t < warmup_) {
    double f = warmup_start_factor_ + (1.0 - warmup_start_factor_) * static_cast<double>(t) / static_cast<double>(warmup_);
    return base * f;
  }
  double span = static_cast<double>(t_max_ - warmup_);
  double pos = static_cast<double>(t - warmup_);
  return eta_min_ + (base - eta_min_) * (1.0 + std::cos(M_PI * pos / span)) / 2.0;
}

// --- ReduceLROnPlateau ---

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& opt, PlateauOptions o) : LRScheduler(opt), o_(std::move(o)) {
  EMBER_CHECK(o_.mode == "min" || o_.mode == "max", "ReduceLROnPlateau", "mode must be 'min' or 'max', got '",
              o_.mode, "'");
  EMBER_CHECK(o_.threshold_mode == "rel" || o_.threshold_mode == "abs", "ReduceLROnPlateau",
              "threshold_mode must be 'rel' or 'abs', got '", o_.threshold_mode, "'");
  EMBER_CHECK(o_.factor < 1.0 && o_.factor >= 0.0, "ReduceLROnPlateau", "factor must be in [0, 1), got ", o_.factor);
  best_ = o_.mode == "min" ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}

double ReduceLROnPlateau::lr_at(size_t g, int64_t) const { return optimizer_.param_groups()[g].lr; }

bool ReduceLROnPlateau::is_better(double a) const {
  bool rel = o_.threshold_mode == "rel";
  if (o_.mode == "min") return rel ? a < best_ * (1.0 - o_.threshold) : a < best_ - o_.threshold;
  return rel ? a > best_ * (1.0 + o_.threshold) : a > best_ + o_.threshold;
}

void ReduceLROnPlateau::step() {
  fail("ReduceLROnPlateau", "step() needs the monitored metric (e.g. the validation loss)");
}

void ReduceLROnPlateau::step(double metric) {
  ++last_epoch_;
  if (is_better(metric)) {
    best_ = metric;
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    bad_epochs_ = 0;  // bad epochs in cooldown do not count
  }
  if (bad_epochs_ > o_.patience) {
    for (ParamGroup& g : optimizer_.param_groups()) {
      double new_lr = std::max(g.lr * o_.factor, o_.min_lr);
      if (g.lr - new_lr > o_.eps) g.lr = new_lr;
    }
    cooldown_counter_ = o_.cooldown;
    bad_epochs_ = 0;
  }
}

std::vector<double> ReduceLROnPlateau::state() const {
  std::vector<double> s{static_cast<double>(last_epoch_), best_, static_cast<double>(bad_epochs_),
                        static_cast<double>(cooldown_counter_)};
  for (const ParamGroup& g : optimizer_.param_groups()) s.push_back(g.lr);
  return s;
}

void ReduceLROnPlateau::load_state(const std::vector<double>& s) {
  EMBER_CHECK(s.size() == 4 + optimizer_.param_groups().size(), "ReduceLROnPlateau", "state has ", s.size(),
              " values, expected ", 4 + optimizer_.param_groups().size());
  last_epoch_ = static_cast<int64_t>(s[0]);
  best_ = s[1];
  bad_epochs_ = static_cast<int64_t>(s[2]);
  cooldown_counter_ = static_cast<int64_t>(s[3]);
  for (size_t i = 0; i < optimizer_.param_groups().size(); ++i) optimizer_.param_groups()[i].lr = s[4 + i];
}

// --- OneCycleLR ---

OneCycleLR::OneCycleLR(Optimizer& opt, std::vector<double> max_lrs, int64_t total_steps, OneCycleOptions o)
    : LRScheduler(opt), max_lrs_(std::move(max_lrs)), total_steps_(total_steps), o_(std::move(o)) {
  size_t groups = opt.param_groups().size();
  if (max_lrs_.size() == 1) max_lrs_.assign(groups, max_lrs_[0]);
  EMBER_CHECK(max_lrs_.size() == groups, "OneCycleLR", "got ", max_lrs_.size(), " max_lr values for ", groups,
              " parameter groups");
  EMBER_CHECK(total_steps > 0, "OneCycleLR", "total_steps must be positive, got ", total_steps);
  EMBER_CHECK(o_.pct_start >= 0 && o_.pct_start <= 1, "OneCycleLR", "pct_start must be in [0, 1], got ", o_.pct_start);
  EMBER_CHECK(o_.anneal_strategy == "cos" || o_.anneal_strategy == "linear", "OneCycleLR",
              "anneal_strategy must be 'cos' or 'linear', got '", o_.anneal_strategy, "'");
  EMBER_CHECK(!o_.cycle_momentum || opt.has_momentum(), "OneCycleLR",
              "cycle_momentum needs an optimizer with momentum (SGD with momentum, Adam, RMSprop with momentum)");
  double n = static_cast<double>(total_steps);
  if (o_.three_phase) {
    phases_ = {{o_.pct_start * n - 1, 0, 1, false}, {2 * o_.pct_start * n - 2, 1, 0, true}, {n - 1, 0, 2, true}};
  } else {
    phases_ = {{o_.pct_start * n - 1, 0, 1, false}, {n - 1, 1, 2, true}};
  }
  apply(0);
  apply_momentum(0);
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (o_.anneal_strategy == "cos") return end + (start - end) / 2.0 * (std::cos(M_PI * pct) + 1.0);
  return (end - start) * pct + start;
}

std::pair<const OneCycleLR::Phase*, double> OneCycleLR::locate(int64_t t) const {
  EMBER_CHECK(t <= total_steps_, "OneCycleLR", "stepped ", t + 1, " times, but total_steps is ", total_steps_);
  double start = 0;
  for (size_t i = 0; i < phases_.size(); ++i) {
    const Phase& p = phases_[i];
    if (static_cast<double>(t) <= p.end_step || i + 1 == phases_.size()) {
      return {&p, (static_cast<double>(t) - start) / (p.end_step - start)};
    }
    start = p.end_step;
  }
  return {&phases_.back(), 1.0};
}

double OneCycleLR::lr_at(size_t g, int64_t t) const {
  double initial = max_lrs_[g] / o_.div_factor;
  double values[3] = {initial, max_lrs_[g], initial / o_.final_div_factor};
  auto [phase, pct] = locate(t);
  return anneal(values[phase->start_lr], values[phase->end_lr], pct);
}

double OneCycleLR::momentum_at(int64_t t) const {
  auto [phase, pct] = locate(t);
  // The first phase lowers momentum from max to base; later phases raise it (the
  // last of three phases holds it at max).
  bool last_of_three = o_.three_phase && phase == &phases_.back();
  if (last_of_three) return o_.max_momentum;
  return phase->momentum_rises ? anneal(o_.base_momentum, o_.max_momentum, pct)
                               : anneal(o_.max_momentum, o_.base_momentum, pct);
}

void OneCycleLR::apply_momentum(int64_t t) {
  if (o_.cycle_momentum) optimizer_.set_momentum(momentum_at(t));
}

void OneCycleLR::step() {
  ++last_epoch_;
  apply(last_epoch_);
  apply_momentum(last_epoch_);
}

}  // namespace ember
