// Optimizers against torch.optim: the same starting parameter and the same
// three gradients give the same trajectory (and state) after three steps.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/oracle.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

// Runs three steps of `make` (Ember) and of `torch_ctor` (PyTorch, with the
// parameter named p) from parameter a with gradients b, c, d.
void check_optimizer(const std::string& torch_ctor, const std::function<std::unique_ptr<Optimizer>(Tensor)>& make) {
  std::string setup =
      "p = a.detach().clone().requires_grad_()\n"
      "opt = " + torch_ctor + "\n"
      "for g in (b, c, d):\n"
      "    opt.zero_grad()\n"
      "    p.grad = g.detach().clone()\n"
      "    opt.step()\n";
  check_op({in::randn({3, 4}), in::no_grad(in::randn({3, 4})), in::no_grad(in::randn({3, 4})),
            in::no_grad(in::randn({3, 4}))},
           "p.detach()",
           [&](const Inputs& x) {
             Tensor p = x[0].detach().clone().requires_grad_();
             std::unique_ptr<Optimizer> opt = make(p);
             for (int k = 1; k <= 3; ++k) {
               opt->zero_grad();
               p.set_grad(x[k].detach().clone());
               opt->step();
             }
             return p.detach();
           },
           kElementwise, setup);
}

TEST(Optimizers, SgdVariants) {
  check_optimizer("torch.optim.SGD([p], lr=0.1)", [](Tensor p) {
    return std::make_unique<SGD>(single_group({p}, 0.1));
  });
  check_optimizer("torch.optim.SGD([p], lr=0.05, momentum=0.9, weight_decay=1e-2)", [](Tensor p) {
    return std::make_unique<SGD>(single_group({p}, 0.05, 1e-2), SgdOptions{0.9, 0.0, false});
  });
  check_optimizer("torch.optim.SGD([p], lr=0.05, momentum=0.8, nesterov=True)", [](Tensor p) {
    return std::make_unique<SGD>(single_group({p}, 0.05), SgdOptions{0.8, 0.0, true});
  });
  check_optimizer("torch.optim.SGD([p], lr=0.05, momentum=0.8, dampening=0.3)", [](Tensor p) {
    return std::make_unique<SGD>(single_group({p}, 0.05), SgdOptions{0.8, 0.3, false});
  });
}

TEST(Optimizers, AdamAdamWRmsprop) {
  check_optimizer("torch.optim.Adam([p], lr=1e-2, weight_decay=1e-5)", [](Tensor p) {
    return std::make_unique<Adam>(single_group({p}, 1e-2, 1e-5));
  });
  check_optimizer("torch.optim.Adam([p], lr=1e-2, betas=(0.8, 0.9), amsgrad=True)", [](Tensor p) {
    AdamOptions o;
    o.beta1 = 0.8;
    o.beta2 = 0.9;
    o.amsgrad = true;
    return std::make_unique<Adam>(single_group({p}, 1e-2), o);
  });
  check_optimizer("torch.optim.AdamW([p], lr=1e-2, weight_decay=0.1)", [](Tensor p) {
    AdamOptions o;
    o.decoupled_weight_decay = true;
    return std::make_unique<Adam>(single_group({p}, 1e-2, 0.1), o);
  });
  check_optimizer("torch.optim.RMSprop([p], lr=1e-2)", [](Tensor p) {
    return std::make_unique<RMSprop>(single_group({p}, 1e-2));
  });
  check_optimizer("torch.optim.RMSprop([p], lr=1e-2, momentum=0.9, centered=True, weight_decay=1e-3)", [](Tensor p) {
    RmspropOptions o;
    o.momentum = 0.9;
    o.centered = true;
    return std::make_unique<RMSprop>(single_group({p}, 1e-2, 1e-3), o);
  });
}

// The fused steps over a list: a large parameter (threads split it) and a
// small one that has no gradient at step 2 (so its Adam step count and its
// SGD momentum buffer lag the other's), in float32 and float64. The unfused
// formulas take float16 parameters (SGD only: PyTorch's CPU Adam has no
// float16) and a non-contiguous large parameter (Ember's side only).
void check_staggered(const std::string& torch_ctor, const std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>& make,
                     DType dtype, bool noncontiguous = false) {
  const std::string setup =
      "p1 = a.detach().clone().requires_grad_()\n"
      "p2 = b.detach().clone().requires_grad_()\n"
      "opt = " + torch_ctor + "\n"
      "for g1, g2 in ((c, f), (d, None), (e, g)):\n"
      "    opt.zero_grad(set_to_none=True)\n"
      "    p1.grad = g1.detach().clone()\n"
      "    if g2 is not None:\n"
      "        p2.grad = g2.detach().clone()\n"
      "    opt.step()\n";
  const Shape big{300, 301}, small{7};
  check_op({in::randn(big, dtype), in::randn(small, dtype), in::no_grad(in::randn(big, dtype)),
            in::no_grad(in::randn(big, dtype)), in::no_grad(in::randn(big, dtype)),
            in::no_grad(in::randn(small, dtype)), in::no_grad(in::randn(small, dtype))},
           "torch.cat([p1.detach().flatten(), p2.detach().flatten()])",
           [&](const Inputs& x) {
             Tensor p1 = noncontiguous ? x[0].detach().t().contiguous().t() : x[0].detach().clone();
             p1.requires_grad_();
             EXPECT_EQ(p1.is_contiguous(), !noncontiguous);
             Tensor p2 = x[1].detach().clone().requires_grad_();
             std::unique_ptr<Optimizer> opt = make({p1, p2});
             const Tensor grads[3][2] = {{x[2], x[5]}, {x[3], Tensor()}, {x[4], x[6]}};
             for (const auto& step : grads) {
               opt->zero_grad();
               p1.set_grad(step[0].detach().clone());
               if (step[1].defined()) p2.set_grad(step[1].detach().clone());
               opt->step();
             }
             return cat({flatten(p1.detach()), flatten(p2.detach())});
           },
           dtype == DType::Float16 ? Tolerance{2e-3, 2e-3} : kElementwise, setup);
}

TEST(Optimizers, FusedStepsOverStaggeredParameters) {
  const std::string sgd = "torch.optim.SGD([p1, p2], lr=0.05, momentum=0.9, weight_decay=1e-2, nesterov=True)";
  auto make_sgd = [](std::vector<Tensor> p) {
    return std::make_unique<SGD>(single_group(p, 0.05, 1e-2), SgdOptions{0.9, 0.0, true});
  };
  const std::string adam = "torch.optim.Adam([p1, p2], lr=1e-2, weight_decay=1e-3, amsgrad=True)";
  auto make_adam = [](std::vector<Tensor> p) {
    AdamOptions o;
    o.amsgrad = true;
    return std::make_unique<Adam>(single_group(p, 1e-2, 1e-3), o);
  };
  const std::string adamw = "torch.optim.AdamW([p1, p2], lr=1e-2, weight_decay=0.1)";
  auto make_adamw = [](std::vector<Tensor> p) {
    AdamOptions o;
    o.decoupled_weight_decay = true;
    return std::make_unique<Adam>(single_group(p, 1e-2, 0.1), o);
  };
  for (DType dtype : {DType::Float32, DType::Float64}) {
    check_staggered(sgd, make_sgd, dtype);
    check_staggered(adam, make_adam, dtype);
    check_staggered(adamw, make_adamw, dtype);
  }
  check_staggered(sgd, make_sgd, DType::Float16);
  check_staggered(sgd, make_sgd, DType::Float32, true);
  check_staggered(adam, make_adam, DType::Float32, true);
  check_staggered(adamw, make_adamw, DType::Float32, true);
}

TEST(Optimizers, ParamGroupsHaveTheirOwnRates) {
  Tensor a = ones({2}).requires_grad_(), b = ones({2}).requires_grad_();
  ParamGroup slow{{a}, 0.1, 0.0, "layer3"}, fast{{b}, 1.0, 0.0, "fc"};
  SGD opt({slow, fast});
  a.set_grad(ones({2}));
  b.set_grad(ones({2}));
  opt.step();
  EXPECT_FLOAT_EQ(a.to_vector<float>()[0], 0.9f);
  EXPECT_FLOAT_EQ(b.to_vector<float>()[0], 0.0f);
  // A parameter without a gradient is left alone.
  opt.zero_grad();
  b.set_grad(ones({2}));
  opt.step();
  EXPECT_FLOAT_EQ(a.to_vector<float>()[0], 0.9f);
  EXPECT_FLOAT_EQ(b.to_vector<float>()[0], -1.0f);
}

// A step writes its parameters in place, so it bumps their version, as
// PyTorch's optimizers do: a graph that saved a parameter and is run again
// after a step says so instead of using the new values. Fused (float32) and
// unfused (float16 through the tensor ops) steps alike.
TEST(Optimizers, StepsMarkTheirParametersWritten) {
  for (DType dtype : {DType::Float32, DType::Float16}) {
    for (bool adam : {false, true}) {
      Tensor p = randn({3, 4}).to(dtype).requires_grad_();
      std::unique_ptr<Optimizer> opt;
      if (adam) {
        opt = std::make_unique<Adam>(single_group({p}, 1e-2));
      } else {
        opt = std::make_unique<SGD>(single_group({p}, 0.1), SgdOptions{0.9});
      }
      Tensor loss = sum(p * p);
      loss.backward(Tensor(), /*retain_graph=*/true);
      const uint64_t before = p.version();
      opt->step();
      EXPECT_GT(p.version(), before) << dtype_name(dtype) << (adam ? " adam" : " sgd");
      expect_error([&] { loss.backward(); }, {"autograd", "modified by an in-place operation"});
    }
  }
}

TEST(Optimizers, Errors) {
  Tensor p = ones({2}).requires_grad_();
  expect_error([&] { SGD(single_group({p}, -1.0)); }, {"optimizer", "learning rate"});
  expect_error([&] { SGD(single_group({p}, 0.1), SgdOptions{0.0, 0.0, true}); }, {"sgd", "nesterov"});
  expect_error([&] { Adam(single_group({p * 2.0}, 0.1)); }, {"optimizer", "leaf"});
}

}  // namespace
}  // namespace ember

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

TEST(ClipGrad, NormAndValueMatchTorch) {
  EMBER_REQUIRE_TORCH();
  for (const char* norm : {"2.0", "1.0", "float('inf')"}) {
    double norm_type = std::string(norm) == "2.0" ? 2.0 : std::string(norm) == "1.0" ? 1.0 : INFINITY;
    std::string setup = std::string("p = [torch.nn.Parameter(torch.zeros(3, 4)), torch.nn.Parameter(torch.zeros(5))]\n") +
                        "p[0].grad = a.clone(); p[1].grad = b.clone()\n"
                        "total = torch.nn.utils.clip_grad_norm_(p, 0.5, " + norm + ")\n";
    Tensor a = randn({3, 4}), b = randn({5});
    auto ref = torch_eval("(total, p[0].grad, p[1].grad)", {a, b}, setup);
    Tensor p0 = zeros({3, 4}).requires_grad_(), p1 = zeros({5}).requires_grad_();
    p0.set_grad(a.clone());
    p1.set_grad(b.clone());
    double total = clip_grad_norm_({p0, p1}, 0.5, norm_type);
    EXPECT_NEAR(total, ref[0].item(), 1e-5 * ref[0].item()) << norm;
    EXPECT_LE(relative_error(p0.grad(), ref[1]), 1e-6) << norm;
    EXPECT_LE(relative_error(p1.grad(), ref[2]), 1e-6) << norm;
  }
  Tensor q = zeros({6}).requires_grad_();
  Tensor g = randn({6});
  q.set_grad(g.clone());
  clip_grad_value_({q}, 0.3);
  EXPECT_LE(relative_error(q.grad(), clamp(g, -0.3, 0.3)), 0.0);
}

}  // namespace
}  // namespace ember
