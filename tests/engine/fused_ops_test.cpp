// Fused ops against the unfused expressions in PyTorch: batch norm with its
// activation (ReLU, ReLU6, SiLU, Hardswish; training and evaluation; forward and every
// gradient) and relu(a + b); finite differences in float64; and the layer
// fusion the models use, against the same modules run one by one.
#include <gtest/gtest.h>

#include "layers/fusion.h"
#include "layers/layers.h"
#include "models/registry.h"
#include "tests/support/oracle.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

struct ActivationCase {
  FusedActivation act;
  const char* torch;  // the PyTorch function applying it
};
const ActivationCase kActivations[] = {
    {FusedActivation::Relu, "F.relu"},
    {FusedActivation::Relu6, "F.relu6"},
    {FusedActivation::Silu, "F.silu"},
    {FusedActivation::Hardswish, "F.hardswish"}};

// Weight and bias spread so that the pre-activation crosses 0 and, for
// ReLU6, 6: every branch of each derivative is taken.
std::vector<InputSpec> bn_inputs(const Shape& x) {
  const int64_t C = x[1];
  return {in::randn(x), in::uniform({C}, -4, 4), in::uniform({C}, -1, 5), in::no_grad(in::randn({C})),
          in::no_grad(in::positive({C}))};
}

TEST(FusedBatchNorm, TrainingMatchesPyTorch) {
  for (const auto& c : kActivations) {
    SCOPED_TRACE(c.torch);
    // Outputs: the activation, then the running statistics after the update.
    check_op(bn_inputs({4, 3, 5, 5}),
             cat_str("(", c.torch, "(F.batch_norm(a, d, e, b, c, training=True, momentum=0.2, eps=1e-3)), d, e)"),
             [&](const Inputs& x) {
               Tensor rm = x[3].detach().clone(), rv = x[4].detach().clone();
               Tensor y = batch_norm(x[0], rm, rv, x[1], x[2], true, 0.2, 1e-3, c.act);
               return std::vector<Tensor>{y, rm, rv};
             },
             kAccumulating);
    // No affine parameters, no running statistics, a 2-D input.
    check_op({in::randn({7, 5})}, cat_str(c.torch, "(F.batch_norm(a, None, None, training=True))"),
             [&](const Inputs& x) {
               return batch_norm(x[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5, c.act);
             },
             kAccumulating);
  }
}

TEST(FusedBatchNorm, EvalMatchesPyTorch) {
  for (const auto& c : kActivations) {
    SCOPED_TRACE(c.torch);
    check_op(bn_inputs({3, 4, 2, 3}), cat_str(c.torch, "(F.batch_norm(a, d, e, b, c, training=False))"),
             [&](const Inputs& x) { return batch_norm(x[0], x[3], x[4], x[1], x[2], false, 0.1, 1e-5, c.act); },
             kAccumulating);
  }
}

TEST(FusedBatchNorm, FiniteDifferenceGradients) {
  for (const auto& c : kActivations) {
    SCOPED_TRACE(c.torch);
    gradcheck([&](const Inputs& x) { return batch_norm(x[0], Tensor(), Tensor(), x[1], x[2], true, 0.1, 1e-5, c.act); },
              {leaf64({3, 2, 2, 3}), leaf64({2}, 1, 3), leaf64({2}, 0, 3)});
    gradcheck([&](const Inputs& x) {
      return batch_norm(x[0], from_vector<double>({0.1, -0.2}, {2}), from_vector<double>({1.5, 0.5}, {2}), x[1],
                        x[2], false, 0.1, 1e-5, c.act);
    }, {leaf64({2, 2, 3}), leaf64({2}, 1, 4), leaf64({2}, 0, 3)});
  }
}

// Only the input gradient asked for (frozen affine parameters), and only the
// parameter gradients (a frozen input): the fused backward's two paths.
TEST(FusedBatchNorm, PartialGradients) {
  for (const auto& c : kActivations) {
    SCOPED_TRACE(c.torch);
    check_op({in::randn({2, 3, 4, 4}), in::no_grad(in::uniform({3}, -3, 3)), in::no_grad(in::uniform({3}, 0, 4))},
             cat_str(c.torch, "(F.batch_norm(a, None, None, b, c, training=True))"),
             [&](const Inputs& x) { return batch_norm(x[0], Tensor(), Tensor(), x[1], x[2], true, 0.1, 1e-5, c.act); },
             kAccumulating);
    check_op({in::no_grad(in::randn({2, 3, 4, 4})), in::uniform({3}, -3, 3), in::uniform({3}, 0, 4)},
             cat_str(c.torch, "(F.batch_norm(a, None, None, b, c, training=True))"),
             [&](const Inputs& x) { return batch_norm(x[0], Tensor(), Tensor(), x[1], x[2], true, 0.1, 1e-5, c.act); },
             kAccumulating);
  }
}

// 16-bit inputs with float32 parameters (autocast's batch norm): the fused
// kernel rounds once after the activation, so it stays within bfloat16's
// rounding of the float32 result.
TEST(FusedBatchNorm, BFloat16InputWithFloat32Parameters) {
  Tensor x = randn({4, 3, 6, 6}), w = rand({3}) * 4.0 - 2.0, b = rand({3}) * 4.0;
  for (const auto& c : kActivations) {
    SCOPED_TRACE(c.torch);
    Tensor expected = batch_norm(x, Tensor(), Tensor(), w, b, true, 0.1, 1e-5, c.act);
    Tensor actual = batch_norm(x.to(DType::BFloat16), Tensor(), Tensor(), w, b, true, 0.1, 1e-5, c.act);
    EXPECT_EQ(actual.dtype(), DType::BFloat16);
    EXPECT_LT(relative_error(actual.to(DType::Float64), expected.to(DType::Float64)), 1e-2);
  }
}

TEST(AddRelu, MatchesPyTorch) {
  check_op({in::randn({2, 3, 4, 5}), in::randn({2, 3, 4, 5})}, "F.relu(a + b)",
           [](const Inputs& x) { return add_relu(x[0], x[1]); });
  check_op({in::randn({2, 3, 4, 5}), in::randn({3, 1, 1})}, "F.relu(a + b)",
           [](const Inputs& x) { return add_relu(x[0], x[1]); });
  check_op({in::randn({4, 1}), in::randn({4, 6}, DType::Float64)}, "F.relu(a + b)",
           [](const Inputs& x) { return add_relu(x[0], x[1]); });
  gradcheck([](const Inputs& x) { return add_relu(x[0], x[1]); }, {leaf64({3, 4}), leaf64({4})});
}

// Runs `model` on a fixed batch with layer fusion on or off: the loss, then
// every parameter's gradient. The seed makes dropout and stochastic depth
// draw the same masks in both runs.
NamedTensors loss_and_gradients(Module& model, const Tensor& input, bool fused) {
  LayerFusionGuard fusion(fused);
  manual_seed(7);
  model.zero_grad();
  Tensor loss = mean(square(model(input)));
  loss.backward();
  NamedTensors out{{"loss", loss.detach()}};
  for (auto& [name, p] : model.named_parameters()) out.emplace_back(name, p.grad());
  return out;
}

// The models' fused pairs give the numbers of the modules one by one, in
// training (batch statistics) and evaluation, and the graph holds the fused
// nodes.
TEST(LayerFusion, ModelsMatchTheUnfusedModules) {
  for (const char* name : {"resnet18", "resnet50", "densenet121", "mobilenet_v2", "mobilenet_v3_small",
                           "efficientnet_b0", "efficientnet_lite0"}) {
    SCOPED_TRACE(name);
    ModulePtr model = create_model(name, 10);
    Tensor x = randn({2, 3, 64, 64});
    for (bool training : {true, false}) {
      model->train(training);
      NamedTensors unfused = loss_and_gradients(*model, x, false);
      NamedTensors fused = loss_and_gradients(*model, x, true);
      ASSERT_EQ(fused.size(), unfused.size());
      EXPECT_LT(relative_error(fused[0].second.to(DType::Float64), unfused[0].second.to(DType::Float64)), 1e-6);
      // Some gradients are zero but for rounding (the bias of a batch norm
      // whose output only reaches the loss through another training-mode
      // batch norm): each is measured against the largest gradient / 1000
      // when it is smaller than that.
      double largest = 0;
      for (size_t i = 1; i < unfused.size(); ++i) largest = std::max(largest, max(abs(unfused[i].second)).item<double>());
      for (size_t i = 1; i < fused.size(); ++i) {
        Tensor expected = unfused[i].second.to(DType::Float64);
        const double scale = std::max(max(abs(expected)).item<double>(), largest * 1e-3);
        const double error = max(abs(fused[i].second.to(DType::Float64) - expected)).item<double>() / scale;
        EXPECT_LT(error, 1e-4) << fused[i].first << (training ? " (training)" : " (eval)");
      }
    }
  }
}

TEST(LayerFusion, SequentialFusesBatchNormAndItsActivation) {
  Sequential seq;
  seq.add(std::make_shared<BatchNorm2d>(3)).add(make_relu6()).add(std::make_shared<BatchNorm2d>(3)).add(make_tanh());
  Tensor x = randn({2, 3, 4, 4}).requires_grad_(true);
  // Fused: BN + ReLU6 is one node; BN + Tanh (no fused form) stays two.
  Tensor y = seq(x);
  ASSERT_NE(y.grad_fn(), nullptr);
  EXPECT_EQ(y.grad_fn()->name(), "TanhBackward");
  Tensor h = seq[1] != nullptr ? norm_activation(*seq[0], *seq[1], x) : Tensor();
  EXPECT_EQ(h.grad_fn()->name(), "BatchNormActivationBackward");
  {
    LayerFusionGuard off(false);
    EXPECT_EQ(norm_activation(*seq[0], *seq[1], x).grad_fn()->name(), "ClampBackward");
  }
  // A model summary's observer sees every module, so nothing is fused then.
  int seen = 0;
  {
    ForwardObserverScope observe([&](const Module& m, const Tensor&, const Tensor&) { ++seen; });
    seq(x);
  }
  EXPECT_EQ(seen, 5);  // four children and the Sequential itself
}

}  // namespace
}  // namespace ember
