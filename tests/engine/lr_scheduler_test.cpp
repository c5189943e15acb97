// Learning-rate schedules against torch.optim.lr_scheduler: the lr of each
// parameter group (and the momentum, for one-cycle) after every step.
#include <gtest/gtest.h>

#include "tests/support/oracle.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

// Two groups with learning rates 0.1 and 0.01, as in the source documents' group rates.
struct TwoGroups {
  Tensor a = ones({2}).requires_grad_(), b = ones({2}).requires_grad_();
  std::vector<ParamGroup> groups() { return {ParamGroup{{a}, 0.1, 0, "a"}, ParamGroup{{b}, 0.01, 0, "b"}}; }
};

const char* kTorchGroups =
    "p1 = torch.nn.Parameter(torch.ones(2)); p2 = torch.nn.Parameter(torch.ones(2))\n"
    "groups = [{'params': [p1], 'lr': 0.1}, {'params': [p2], 'lr': 0.01}]\n";

// Runs `steps` scheduler steps in PyTorch and returns lr (and momentum) per step.
Tensor torch_schedule(const std::string& make_opt, const std::string& make_sched, int steps, const std::string& metrics,
                      bool momentum) {
  std::string setup = std::string(kTorchGroups) + "opt = " + make_opt + "\nsched = " + make_sched +
                      "\nrows = []\nmetrics = " + (metrics.empty() ? "None" : metrics) +
                      "\nfor i in range(" + std::to_string(steps) + "):\n"
                      "    g = opt.param_groups\n"
                      "    m = [g[0].get('momentum', g[0].get('betas', (0,))[0])] if " + (momentum ? "True" : "False") +
                      " else []\n"
                      "    rows.append([g[0]['lr'], g[1]['lr']] + m)\n"
                      "    opt.step()\n"
                      "    sched.step() if metrics is None else sched.step(metrics[i])\n";
  return torch_eval("torch.tensor(rows, dtype=torch.float64)", {}, setup)[0];
}

void expect_schedule(Optimizer& opt, LRScheduler& sched, const Tensor& expected, const std::vector<double>& metrics = {}) {
  std::vector<double> want = expected.to_vector<double>();
  int64_t cols = expected.size(1);
  for (int64_t i = 0; i < expected.size(0); ++i) {
    double lr0 = opt.param_groups()[0].lr, lr1 = opt.param_groups()[1].lr;
    EXPECT_NEAR(lr0, want[static_cast<size_t>(i * cols)], 1e-12 + 1e-9 * std::abs(lr0)) << sched.name() << " step " << i;
    EXPECT_NEAR(lr1, want[static_cast<size_t>(i * cols + 1)], 1e-12 + 1e-9 * std::abs(lr1)) << sched.name() << " step " << i;
    if (cols == 3) {
      EXPECT_NEAR(opt.momentum(), want[static_cast<size_t>(i * cols + 2)], 1e-9) << "momentum step " << i;
    }
    if (metrics.empty()) sched.step();
    else sched.step(metrics[static_cast<size_t>(i)]);
  }
}

TEST(LRScheduler, StepAndMultiStep) {
  EMBER_REQUIRE_TORCH();
  TwoGroups s;
  SGD opt(s.groups());
  StepLR step(opt, 3, 0.5);
  expect_schedule(opt, step, torch_schedule("torch.optim.SGD(groups)", "torch.optim.lr_scheduler.StepLR(opt, 3, 0.5)", 10, "", false));
  TwoGroups s2;
  SGD opt2(s2.groups());
  MultiStepLR ms(opt2, {2, 5, 6}, 0.1);
  expect_schedule(opt2, ms, torch_schedule("torch.optim.SGD(groups)", "torch.optim.lr_scheduler.MultiStepLR(opt, [2, 5, 6], 0.1)", 9, "", false));
}

TEST(LRScheduler, CosineWithAndWithoutWarmup) {
  EMBER_REQUIRE_TORCH();
  TwoGroups s;
  SGD opt(s.groups());
  CosineAnnealingLR cos(opt, 10, 1e-4);
  expect_schedule(opt, cos, torch_schedule("torch.optim.SGD(groups)", "torch.optim.lr_scheduler.CosineAnnealingLR(opt, 10, 1e-4)", 14, "", false));
  TwoGroups s2;
  Adam opt2(s2.groups());
  CosineAnnealingLR warm(opt2, 12, 0.0, 3, 0.1);
  expect_schedule(opt2, warm,
                  torch_schedule("torch.optim.Adam(groups)",
                                 "torch.optim.lr_scheduler.SequentialLR(opt, [torch.optim.lr_scheduler.LinearLR(opt, 0.1, "
                                 "total_iters=3), torch.optim.lr_scheduler.CosineAnnealingLR(opt, 9)], milestones=[3])",
                                 12, "", false));
}

TEST(LRScheduler, ReduceOnPlateau) {
  EMBER_REQUIRE_TORCH();
  std::vector<double> metrics{1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.4};
  std::string m = "[1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.4]";
  TwoGroups s;
  SGD opt(s.groups());
  PlateauOptions o;
  o.patience = 2;
  o.factor = 0.5;
  o.cooldown = 1;
  ReduceLROnPlateau plateau(opt, o);
  expect_schedule(opt, plateau,
                  torch_schedule("torch.optim.SGD(groups)",
                                 "torch.optim.lr_scheduler.ReduceLROnPlateau(opt, 'min', factor=0.5, patience=2, cooldown=1)",
                                 13, m, false),
                  metrics);
}

TEST(LRScheduler, OneCycleWithMomentum) {
  EMBER_REQUIRE_TORCH();
  TwoGroups s;
  SGD opt(s.groups(), SgdOptions{0.9});
  OneCycleLR one(opt, {1.0, 0.1}, 20);
  expect_schedule(opt, one,
                  torch_schedule("torch.optim.SGD(groups, momentum=0.9)",
                                 "torch.optim.lr_scheduler.OneCycleLR(opt, [1.0, 0.1], total_steps=20)", 20, "", true));
  TwoGroups s2;
  Adam opt2(s2.groups());
  OneCycleOptions o;
  o.three_phase = true;
  o.anneal_strategy = "linear";
  OneCycleLR three(opt2, {0.5}, 15, o);
  expect_schedule(opt2, three,
                  torch_schedule("torch.optim.Adam(groups)",
                                 "torch.optim.lr_scheduler.OneCycleLR(opt, 0.5, total_steps=15, three_phase=True, "
                                 "anneal_strategy='linear')",
                                 15, "", true));
}

TEST(LRScheduler, Errors) {
  TwoGroups s;
  SGD opt(s.groups());
  expect_error([&] { StepLR(opt, 0); }, {"StepLR", "step_size"});
  expect_error([&] { OneCycleLR(opt, {1.0}, 10); }, {"OneCycleLR", "momentum"});
  ReduceLROnPlateau p(opt);
  expect_error([&] { p.step(); }, {"ReduceLROnPlateau", "metric"});
}

}  // namespace
}  // namespace ember
