// Optimizers against torch.optim: the same starting parameter and the same
// three gradients give the same trajectory (and state) after three steps.
#include <gtest/gtest.h>

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

TEST(Optimizers, Errors) {
  Tensor p = ones({2}).requires_grad_();
  expect_error([&] { SGD(single_group({p}, -1.0)); }, {"optimizer", "learning rate"});
  expect_error([&] { SGD(single_group({p}, 0.1), SgdOptions{0.0, 0.0, true}); }, {"sgd", "nesterov"});
  expect_error([&] { Adam(single_group({p * 2.0}, 0.1)); }, {"optimizer", "leaf"});
}

}  // namespace
}  // namespace ember
