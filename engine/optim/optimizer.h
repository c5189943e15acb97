// Optimizers with PyTorch's update rules and parameter groups. A group holds
// its own learning rate and weight decay (e.g. layer3: 5e-5, layer4: 5e-4,
// fc: 1e-3); step() reads each parameter's .grad and updates it in place
// under no-grad; parameters without a gradient are skipped, as in PyTorch.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace ember {

struct AdamScalars;  // engine/backend.h

struct ParamGroup {
  std::vector<Tensor> params;
  double lr = 1e-3;
  double weight_decay = 0.0;
  std::string name;  // for logs ("layer4", "fc"); optional
};

class Optimizer {
 public:
  explicit Optimizer(std::vector<ParamGroup> groups);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  virtual std::string name() const = 0;
  // Drops every parameter's .grad (set_to_none, PyTorch 2's default).
  void zero_grad();
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  // Per-parameter state tensors by name ("momentum_buffer", "exp_avg", ...),
  // in parameter order; what a checkpoint saves.
  std::map<std::string, Tensor>& state(size_t group, size_t index);
  int64_t steps() const { return steps_; }
  void set_steps(int64_t s) { steps_ = s; }
  // The momentum a one-cycle schedule varies: SGD's and RMSprop's momentum,
  // Adam's beta1. Optimizers without one report false.
  virtual bool has_momentum() const { return false; }
  virtual double momentum() const { return 0.0; }
  virtual void set_momentum(double) {}

 protected:
  std::vector<ParamGroup> groups_;
  std::vector<std::vector<std::map<std::string, Tensor>>> state_;
  int64_t steps_ = 0;
};

struct SgdOptions {
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;
};

class SGD final : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, SgdOptions options = {});
  void step() override;
  std::string name() const override { return "sgd"; }
  bool has_momentum() const override { return options_.momentum > 0; }
  double momentum() const override { return options_.momentum; }
  void set_momentum(double m) override { options_.momentum = m; }

 private:
  SgdOptions options_;
};

struct AdamOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  bool amsgrad = false;
  bool decoupled_weight_decay = false;  // true: AdamW
};

class Adam final : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, AdamOptions options = {});
  void step() override;
  std::string name() const override { return options_.decoupled_weight_decay ? "adamw" : "adam"; }
  bool has_momentum() const override { return true; }
  double momentum() const override { return options_.beta1; }
  void set_momentum(double m) override { options_.beta1 = m; }

 private:
  // This group's scalars at step t (the bias corrections 1 - beta^t).
  AdamScalars scalars(const ParamGroup& group, double t) const;
  AdamOptions options_;
};

struct RmspropOptions {
  double alpha = 0.99;
  double eps = 1e-8;
  double momentum = 0.0;
  bool centered = false;
};

class RMSprop final : public Optimizer {
 public:
  RMSprop(std::vector<ParamGroup> groups, RmspropOptions options = {});
  void step() override;
  std::string name() const override { return "rmsprop"; }
  bool has_momentum() const override { return options_.momentum > 0; }
  double momentum() const override { return options_.momentum; }
  void set_momentum(double m) override { options_.momentum = m; }

 private:
  RmspropOptions options_;
};

// One group holding all `params` with the given learning rate.
std::vector<ParamGroup> single_group(const std::vector<Tensor>& params, double lr, double weight_decay = 0.0);

}  // namespace ember
