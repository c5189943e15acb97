// Autograd semantics (PyTorch's): leaves, accumulation, explicit gradients,
// no-grad scopes, detach, freeing the graph, in-place corruption errors, and
// gradients through every view op against PyTorch.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/oracle.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

Tensor vec(std::vector<float> v) {
  int64_t n = static_cast<int64_t>(v.size());
  return from_vector(v, {n});
}

TEST(Autograd, LeafGradientsAccumulateOverUses) {
  Tensor x = vec({1, 2, 3}).requires_grad_();
  Tensor y = sum(x * x + x * 3.0);  // dy/dx = 2x + 3
  EXPECT_FALSE(y.is_leaf());
  EXPECT_TRUE(x.is_leaf());
  y.backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{5, 7, 9}));
  // A second graph adds into the same .grad, as in PyTorch.
  sum(x * 2.0).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{7, 9, 11}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, ExplicitGradientForNonScalarOutput) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor y = x * 3.0;
  expect_error([&] { y.backward(); }, {"backward", "one-element", "[2]"});
  y.backward(vec({1, 10}));
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{3, 30}));
  expect_error([&] { (x * 2.0).backward(vec({1, 2, 3})); }, {"backward", "[3]", "[2]"});
}

TEST(Autograd, NoGradScopeAndDetachStopTheGraph) {
  Tensor x = vec({1, 2}).requires_grad_();
  {
    NoGradGuard guard;
    Tensor y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
    {
      EnableGradGuard enable;
      EXPECT_TRUE((x * 2.0).requires_grad());
    }
  }
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  Tensor z = sum(x * d);  // d is a constant: dz/dx = d
  z.backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{1, 2}));
  expect_error([&] { sum(d * 2.0).backward(); }, {"backward", "does not require grad"});
}

TEST(Autograd, GraphIsFreedAfterBackwardUnlessRetained) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor y = sum(exp(x));
  y.backward();
  expect_error([&] { y.backward(); }, {"second time", "retain_graph"});
  Tensor w = vec({0.5f, 1.5f}).requires_grad_();
  Tensor z = sum(exp(w));
  z.backward(Tensor(), /*retain_graph=*/true);
  z.backward();
  std::vector<float> g = w.grad().to_vector<float>();
  EXPECT_FLOAT_EQ(g[0], 2 * std::exp(0.5f));
  EXPECT_FLOAT_EQ(g[1], 2 * std::exp(1.5f));
}

TEST(Autograd, InPlaceChangeOfASavedValueIsAnError) {
  Tensor x = vec({1, 2, 3}).requires_grad_();
  Tensor s = sigmoid(x);  // saves its output
  Tensor y = sum(s * 2.0);
  s.mul_(2.0);
  expect_error([&] { y.backward(); }, {"MulBackward", "in-place", "[3]", "version 0", "version 1"});
  // In-place on a leaf that requires grad is refused up front.
  expect_error([&] { x.add_(1.0); }, {"add_", "leaf", "requires grad"});
  // Under NoGradGuard it is allowed (this is what optimizers do).
  {
    NoGradGuard guard;
    x.add_(1.0);
  }
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{2, 3, 4}));
}

TEST(Autograd, InPlaceOpsOnIntermediatesAreDifferentiable) {
  check_op({in::randn({3, 4}), in::randn({4})}, "(a * 2).add_(b, alpha=3).mul_(b).clamp_(-1, 1).relu_()",
           [](const Inputs& x) {
             Tensor t = x[0] * 2.0;
             t.add_(x[1], 3);
             t.mul_(x[1]);
             t.clamp_(-1, 1);
             t.relu_();
             return t;
           });
  // relu_ saves its output, so changing it afterwards breaks the backward (PyTorch agrees).
  Tensor a = from_vector<float>({-1, 2}, {2}).requires_grad_();
  Tensor t = a * 1.0;
  t.relu_();
  t.clamp_(-1, 1);
  expect_error([&] { sum(t).backward(); }, {"ReluBackward", "version 1", "version 2"});
}

TEST(Autograd, RetainGradAndFunctionalGrad) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor h = x * 3.0;
  h.retain_grad();
  sum(h * h).backward();
  EXPECT_EQ(h.grad().to_vector<float>(), (std::vector<float>{6, 12}));
  Tensor a = vec({2, 3}).requires_grad_();
  std::vector<Tensor> g = grad({sum(a * a * a)}, {a});
  EXPECT_EQ(g[0].to_vector<float>(), (std::vector<float>{12, 27}));
  EXPECT_FALSE(a.grad().defined());  // grad() leaves .grad alone
}

TEST(Autograd, DiamondGraphSumsBothPaths) {
  Tensor x = vec({0.5f}).requires_grad_();
  Tensor a = sin(x), b = cos(x);
  Tensor y = sum(a * b + a);  // d/dx = cos^2 - sin^2 + cos
  y.backward();
  float v = 0.5f;
  EXPECT_NEAR(x.grad().item<float>(), std::cos(v) * std::cos(v) - std::sin(v) * std::sin(v) + std::cos(v), 1e-6);
}

TEST(Autograd, GradientsThroughViewsMatchPyTorch) {
  check_op({in::randn({2, 3, 4})}, "a.view(6, 4) * 2", [](const Inputs& x) { return x[0].view({6, 4}) * 2.0; });
  check_op({in::randn({2, 3, 4})}, "a.transpose(1, 2).reshape(2, 12)",
           [](const Inputs& x) { return x[0].transpose(1, 2).reshape({2, 12}); });
  check_op({in::randn({2, 3, 4})}, "a.permute(2, 0, 1) ** 2", [](const Inputs& x) { return square(x[0].permute({2, 0, 1})); });
  check_op({in::randn({5, 6})}, "a.narrow(1, 2, 3) * a[:, :3]",
           [](const Inputs& x) { return x[0].narrow(1, 2, 3) * x[0].slice(1, 0, 3); });
  check_op({in::randn({5, 6})}, "a[1, :5] + a[:, -1]",
           [](const Inputs& x) { return x[0].select(0, 1).narrow(0, 0, 5) + x[0].select(1, -1); });
  check_op({in::randn({4, 1, 3})}, "a.squeeze(1).unsqueeze(0).expand(2, 4, 3)",
           [](const Inputs& x) { return x[0].squeeze(1).unsqueeze(0).expand({2, 4, 3}); });
  check_op({in::randn({3, 8})}, "a[:, 1::3]", [](const Inputs& x) { return x[0].slice(1, 1, 8, 3); });
  check_op({in::randn({2, 3})}, "a.to(torch.float64) * 2", [](const Inputs& x) { return x[0].to(DType::Float64) * 2; });
  check_op({in::randn({2, 3})}, "a.clone().flatten()", [](const Inputs& x) { return x[0].clone().flatten(); });
}

TEST(Autograd, SameTensorAsBothInputs) {
  check_op({in::randn({4})}, "a * a + a / (a.abs() + 1)",
           [](const Inputs& x) { return x[0] * x[0] + x[0] / (abs(x[0]) + 1.0); });
}

}  // namespace
}  // namespace ember
