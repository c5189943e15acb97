// Fused ops against the unfused expressions in PyTorch: batch norm with its
// activation (ReLU, ReLU6, SiLU, Hardswish; training and evaluation; forward and every
// gradient) and relu(a + b); finite differences in float64; and the layer
// fusion the models use, against the same modules run one by one; and the
// inference op conv2d_batch_norm (a convolution with its evaluation-mode
// batch norm, activation and residual folded into its output) against
// PyTorch and, number for number, against the ops one after the other.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "engine/autograd/grad_mode.h"
#include "engine/threads.h"
#include "kernels/cpu/batch_norm_rows.h"
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

// --- conv2d_batch_norm ---

struct ConvCase {
  const char* name;
  int64_t N, C, OC, H, W, kernel, stride, padding, dilation, groups;
};
const ConvCase kConvCases[] = {
    {"3x3 conv", 2, 5, 7, 9, 9, 3, 1, 1, 1, 1},
    {"3x3 stride 2, not square", 1, 4, 6, 11, 8, 3, 2, 1, 1, 1},
    {"pointwise", 2, 6, 5, 8, 8, 1, 1, 0, 1, 1},
    {"7x7 map, several samples per product", 5, 8, 12, 7, 7, 3, 1, 1, 1, 1},
    {"blocks of output rows at any thread count", 1, 12, 8, 80, 12, 5, 1, 2, 1, 1},
    {"dilated, not square", 2, 4, 6, 10, 13, 3, 1, 2, 2, 1},
    {"depthwise 3x3", 2, 6, 6, 10, 10, 3, 1, 1, 1, 6},
    {"depthwise 5x5 stride 2", 1, 4, 4, 12, 12, 5, 2, 2, 1, 4},
    {"depthwise, 2 outputs per channel", 2, 4, 8, 9, 7, 3, 1, 1, 1, 4},
    {"depthwise, eight channels at a time and a last plane", 2, 17, 17, 7, 9, 3, 1, 1, 1, 17},
    {"depthwise 5x5 stride 2, eight channels at a time", 1, 16, 16, 14, 14, 5, 2, 2, 1, 16},
    {"depthwise 3x3 on a 7x7 map, eight channels at a time and a last plane", 2, 9, 9, 7, 7, 3, 1, 1, 1, 9},
    {"grouped", 2, 6, 4, 7, 7, 3, 1, 1, 1, 2},
    // At least 16 input channels, small weights: the direct kernel over
    // channel blocks (conv2d_direct.cpp), its epilogue on each block of
    // pixels; partial blocks of input and output channels, stride 2 with
    // two blocks of pixels.
    {"direct over channel blocks, partial blocks", 2, 20, 20, 13, 10, 3, 1, 1, 1, 1},
    {"direct over channel blocks, stride 2, two blocks of pixels", 1, 24, 40, 30, 27, 3, 2, 1, 1, 1},
    // One product over the whole map at batch 1, its epilogue run by sgemm
    // on each block as it finishes: blocks of rows (72) and columns (512),
    // slices of K (256), the product cut over threads by columns, then by rows.
    {"pointwise, one product in blocks and slices", 1, 300, 80, 24, 24, 1, 1, 0, 1, 1},
    {"pointwise, 7x7 map, product cut by rows", 1, 300, 200, 7, 7, 1, 1, 0, 1, 1},
    // Stride 1 on maps at most 1/8 narrower than the padded input: read
    // from it in place, the epilogue run on each block at the padded width.
    {"read from the padded input, one product cut by columns mid-row", 1, 12, 8, 32, 29, 3, 1, 1, 1, 1},
    {"read from the padded input, grouped, dilated, a product per sample", 3, 8, 12, 12, 36, 3, 1, 2, 2, 2},
    {"read from the padded input's phases, stride 2", 2, 6, 8, 20, 27, 3, 2, 1, 1, 1},
    // AVX-512 builds: depthwise planes more than 8 columns wide, sixteen
    // columns per register and four rows at a time (depthwise_rows.h), the
    // epilogue in the register: 19 columns (a partial second register) on
    // 7 rows (a block of four and one of three), 5x5 on 20 columns.
    {"depthwise 3x3 stride 2, sixteen columns per register", 1, 8, 8, 13, 37, 3, 2, 1, 1, 8},
    {"depthwise 5x5, sixteen columns per register", 2, 3, 3, 6, 20, 5, 1, 2, 1, 3},
    // AVX-512 builds: 3x3 on at most 4 input channels (conv2d_few_channels.h),
    // sixteen output channels per pass and a remainder one at a time.
    {"RGB stem, stride 2, 18 columns, 20 output channels", 2, 3, 20, 9, 35, 3, 2, 1, 1, 1},
    {"four input channels, stride 1, unpadded", 1, 4, 17, 5, 21, 3, 1, 0, 1, 1},
    {"read from the padded input, square", 2, 12, 12, 18, 18, 3, 1, 1, 1, 1},
};

// The batch norm's tensors for `OC` channels, spread so the result crosses
// 0 and 6.
BatchNormEval random_batch_norm(int64_t OC, DType dtype, bool affine) {
  BatchNormEval bn;
  if (affine) {
    bn.weight = uniform({OC}, -2, 3).to(dtype);
    bn.bias = uniform({OC}, -1, 5).to(dtype);
  }
  bn.running_mean = randn({OC}).to(dtype);
  bn.running_var = uniform({OC}, 0.5, 2).to(dtype);
  bn.eps = 1e-3;
  return bn;
}

// got has want's shape and, to the bit, its values.
void expect_same_bits(const Tensor& got, const Tensor& want) {
  ASSERT_EQ(got.shape(), want.shape());
  EXPECT_EQ(max(abs(got.to(DType::Float64) - want.to(DType::Float64))).item<double>(), 0.0);
}

// conv2d, batch_norm and the activation (or the residual add) one after the other.
Tensor conv_bn_separately(const Tensor& x, const Tensor& w, const Tensor& b, const ConvCase& c, const BatchNormEval& bn,
                          FusedActivation act, const Tensor& residual) {
  Tensor h = conv2d(x, w, b, {c.stride, c.stride}, {c.padding, c.padding}, {c.dilation, c.dilation}, c.groups);
  if (!residual.defined()) return batch_norm(h, bn.running_mean, bn.running_var, bn.weight, bn.bias, false, 0.1, bn.eps, act);
  h = batch_norm(h, bn.running_mean, bn.running_var, bn.weight, bn.bias, false, 0.1, bn.eps);
  return act == FusedActivation::Relu ? add_relu(h, residual) : add(h, residual);
}

// Every kernel (GEMM, depthwise, grouped; NCHW and channels-last), every
// activation, with and without the convolution's bias, the batch norm's
// affine parameters and a residual, in float32 and float64, on 1, 2 and 4
// threads (which cut the output into different blocks): exactly the numbers
// of the ops one after the other.
// The float32 row form of batch norm + ReLU / ReLU6 (vectorised as maxps(0,
// x) and minps(6, x), batch_norm_rows.h) and the scalar formula agree with
// PyTorch where it matters beyond rounding: NaN stays NaN and -0.0 stays
// -0.0 (torch.relu(-0.0) and F.relu6(-0.0) are -0.0 in PyTorch 1.13), over
// 8-float vectors and the scalar tail alike (19 values).
TEST(FusedActivationRow, NanAndNegativeZeroPassThrough) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float pattern[] = {-0.0f, nan, -1.0f, 2.0f, 7.0f, 6.0f, 0.5f, -3.0f};
  std::vector<float> p(19), q(19), r(19, -0.0f);
  for (size_t i = 0; i < p.size(); ++i) p[i] = pattern[i % 8];
  auto check = [&](FusedActivation act, const char* what) {
    for (size_t i = 0; i < p.size(); ++i) {
      const float x = p[i];
      if (std::isnan(x)) {
        EXPECT_TRUE(std::isnan(q[i])) << what << " at " << i;
        continue;
      }
      // By hand: negative to +0, -0 kept, 6 the ceiling of ReLU6.
      const float want = x == 0.0f ? x : x < 0.0f ? 0.0f : (act == FusedActivation::Relu6 && x > 6.0f ? 6.0f : x);
      EXPECT_EQ(std::bit_cast<uint32_t>(q[i]), std::bit_cast<uint32_t>(want)) << what << " at " << i << ": " << q[i];
      EXPECT_EQ(std::bit_cast<uint32_t>(math::fused_activation(x, act)), std::bit_cast<uint32_t>(want)) << what;
    }
  };
  // scale 1 and shift -0.0 keep every value, -0.0 included (fma(-0, 1, -0) = -0).
  normalise_row<float, FusedActivation::Relu>(p.data(), q.data(), 19, 1.0f, -0.0f);
  check(FusedActivation::Relu, "relu");
  normalise_row<float, FusedActivation::Relu6>(p.data(), q.data(), 19, 1.0f, -0.0f);
  check(FusedActivation::Relu6, "relu6");
  normalise_row_add<float, FusedActivation::Relu>(p.data(), r.data(), q.data(), 19, 1.0f, -0.0f);
  check(FusedActivation::Relu, "relu with a -0.0 residual");
}

TEST(Conv2dBatchNorm, EqualsTheOpsOneAfterTheOther) {
  NoGradGuard no_grad;
  manual_seed(3);
  const int threads = num_threads();
  int checked = 0;
  for (int t : {1, 2, 4}) {
    set_num_threads(t);
    for (const ConvCase& c : kConvCases) {
      for (DType dtype : {DType::Float32, DType::Float64}) {
        for (bool channels_last : {false, true}) {
          for (int variant = 0; variant < 4; ++variant) {
            const bool with_bias = variant & 1, affine = !(variant & 2);
            const MemoryFormat format = channels_last ? MemoryFormat::ChannelsLast : MemoryFormat::Contiguous;
            Tensor x = randn({c.N, c.C, c.H, c.W}).to(dtype).contiguous(format);
            Tensor w = randn({c.OC, c.C / c.groups, c.kernel, c.kernel}).to(dtype).contiguous(format);
            Tensor b = with_bias ? randn({c.OC}).to(dtype) : Tensor();
            const BatchNormEval bn = random_batch_norm(c.OC, dtype, affine);
            const int64_t OH = conv_output_size(c.H, c.kernel, c.stride, c.padding, c.dilation);
            const int64_t OW = conv_output_size(c.W, c.kernel, c.stride, c.padding, c.dilation);
            Tensor residual = randn({c.N, c.OC, OH, OW}).to(dtype).contiguous(format);
            const Pair stride{c.stride, c.stride}, padding{c.padding, c.padding}, dilation{c.dilation, c.dilation};
            for (FusedActivation act : {FusedActivation::None, FusedActivation::Relu, FusedActivation::Relu6,
                                        FusedActivation::Silu, FusedActivation::Hardswish}) {
              for (bool with_residual : {false, true}) {
                if (with_residual && act != FusedActivation::None && act != FusedActivation::Relu) continue;
                SCOPED_TRACE(cat_str(c.name, ", ", t, " threads, ", dtype_name(dtype),
                                     channels_last ? ", channels-last" : "", with_bias ? ", conv bias" : "",
                                     affine ? "" : ", no affine", ", activation ", static_cast<int>(act),
                                     with_residual ? ", residual" : ""));
                const Tensor r = with_residual ? residual : Tensor();
                Tensor fused = conv2d_batch_norm(x, w, b, stride, padding, dilation, c.groups, bn, act, r);
                Tensor expected = conv_bn_separately(x, w, b, c, bn, act, r);
                expect_same_bits(fused, expected);
                EXPECT_EQ(is_channels_last(fused), channels_last);
                ++checked;
              }
            }
          }
        }
      }
    }
  }
  set_num_threads(threads);
  EXPECT_EQ(checked, 3 * 25 * 2 * 2 * 4 * 7);
}

// A convolution read from its padded input whose product would exceed 8 MiB
// runs as products of blocks of output rows (here 162 and 48 rows of a
// 64-channel 210 x 200 map), each block's epilogue placed by the block's
// first row: the fused result equals the ops one after the other exactly.
TEST(Conv2dBatchNorm, ProductInBlocksOfOutputRows) {
  NoGradGuard no_grad;
  manual_seed(4);
  const ConvCase c{"product in blocks of output rows", 1, 4, 64, 210, 200, 3, 1, 1, 1, 1};
  Tensor x = randn({c.N, c.C, c.H, c.W}), w = randn({c.OC, c.C, 3, 3}), b = randn({c.OC});
  const BatchNormEval bn = random_batch_norm(c.OC, DType::Float32, true);
  Tensor residual = randn({c.N, c.OC, c.H, c.W});
  Tensor fused = conv2d_batch_norm(x, w, b, {1, 1}, {1, 1}, {1, 1}, 1, bn, FusedActivation::Relu, residual);
  Tensor expected = conv_bn_separately(x, w, b, c, bn, FusedActivation::Relu, residual);
  EXPECT_EQ(max(abs(fused - expected)).item<double>(), 0.0);
}

TEST(Conv2dBatchNorm, MatchesPyTorch) {
  NoGradGuard no_grad;
  for (const ConvCase& c : {kConvCases[0], kConvCases[3], kConvCases[6], std::end(kConvCases)[-1]}) {
    SCOPED_TRACE(c.name);
    const int64_t OH = conv_output_size(c.H, c.kernel, c.stride, c.padding, 1);
    ASSERT_EQ(c.H, c.W);
    ASSERT_EQ(c.dilation, 1);
    const std::string conv = cat_str("F.conv2d(a, b, c, stride=", c.stride, ", padding=", c.padding,
                                     ", groups=", c.groups, ")");
    const std::string bn = cat_str("F.batch_norm(", conv, ", f, g, d, e, training=False, eps=1e-3)");
    std::vector<InputSpec> inputs = {in::no_grad(in::randn({c.N, c.C, c.H, c.H})),
                                     in::no_grad(in::randn({c.OC, c.C / c.groups, c.kernel, c.kernel})),
                                     in::no_grad(in::randn({c.OC})),
                                     in::no_grad(in::uniform({c.OC}, -2, 3)),
                                     in::no_grad(in::uniform({c.OC}, -1, 5)),
                                     in::no_grad(in::randn({c.OC})),
                                     in::no_grad(in::positive({c.OC})),
                                     in::no_grad(in::randn({c.N, c.OC, OH, OH}))};
    auto run = [&](FusedActivation act, bool residual) {
      return [&c, act, residual](const Inputs& x) {
        const BatchNormEval norm{x[3], x[4], x[5], x[6], 1e-3};
        return conv2d_batch_norm(x[0], x[1], x[2], {c.stride, c.stride}, {c.padding, c.padding}, {1, 1}, c.groups,
                                 norm, act, residual ? x[7] : Tensor());
      };
    };
    check_op(inputs, cat_str("F.relu6(", bn, ")"), run(FusedActivation::Relu6, false), kAccumulating);
    check_op(inputs, cat_str("F.silu(", bn, ")"), run(FusedActivation::Silu, false), kAccumulating);
    check_op(inputs, cat_str("F.relu(", bn, " + h)"), run(FusedActivation::Relu, true), kAccumulating);
  }
}

// The backends' default (the ops one after the other, which CUDA runs) gives
// the CPU's fused numbers; 16-bit tensors and batch-norm parameters of
// another dtype take it on the CPU too.
TEST(Conv2dBatchNorm, DefaultAndMixedDtypesAgree) {
  NoGradGuard no_grad;
  const ConvCase& c = kConvCases[0];
  Tensor x = randn({c.N, c.C, c.H, c.W}), w = randn({c.OC, c.C, 3, 3}), r = randn({c.N, c.OC, c.H, c.W});
  const BatchNormEval bn = random_batch_norm(c.OC, DType::Float32, true);
  Tensor fused = conv2d_batch_norm(x, w, Tensor(), {1, 1}, {1, 1}, {1, 1}, 1, bn, FusedActivation::Relu, r);
  Tensor out = empty_like(fused);
  Backend& cpu = cpu_backend();
  cpu.Backend::conv2d_forward_batch_norm(out, x, w, Tensor(), Conv2dParams{1, 1, 1, 1, 1, 1, 1, false}, bn,
                                         FusedActivation::Relu, r);
  EXPECT_EQ(max(abs(out - fused)).item<double>(), 0.0);

  // bfloat16 and float16 with float32 batch-norm tensors (mixed precision):
  // within their precision of the float32 result.
  for (DType half : {DType::BFloat16, DType::Float16}) {
    Tensor y = conv2d_batch_norm(x.to(half), w.to(half), Tensor(), {1, 1}, {1, 1}, {1, 1}, 1, bn,
                                 FusedActivation::Relu, r.to(half));
    EXPECT_EQ(y.dtype(), half);
    EXPECT_LT(relative_error(y.to(DType::Float64), fused.to(DType::Float64)), half == DType::BFloat16 ? 2e-2 : 2e-3);
  }
}

TEST(Conv2dBatchNorm, RefusesWhatItCannotDo) {
  Tensor x = randn({1, 3, 5, 5}), w = randn({4, 3, 3, 3});
  const BatchNormEval bn = random_batch_norm(4, DType::Float32, true);
  const Pair one{1, 1};
  expect_error([&] { conv2d_batch_norm(x, w.clone().requires_grad_(true), Tensor(), one, one, one, 1, bn); },
               {"conv2d_batch_norm", "inference", "NoGradGuard"});
  NoGradGuard no_grad;
  const BatchNormEval wrong = random_batch_norm(3, DType::Float32, true);
  expect_error([&] { conv2d_batch_norm(x, w, Tensor(), one, one, one, 1, wrong); },
               {"conv2d_batch_norm", "shape [3]", "4 output channels"});
  BatchNormEval no_stats = bn;
  no_stats.running_var = Tensor();
  expect_error([&] { conv2d_batch_norm(x, w, Tensor(), one, one, one, 1, no_stats); }, {"running_var"});
  expect_error([&] { conv2d_batch_norm(x, w, Tensor(), one, one, one, 1, bn, FusedActivation::Silu, randn({1, 4, 5, 5})); },
               {"residual", "ReLU"});
  expect_error([&] { conv2d_batch_norm(x, w, Tensor(), one, one, one, 1, bn, FusedActivation::Relu, randn({1, 4, 5, 4})); },
               {"residual", "[1, 4, 5, 4]", "[1, 4, 5, 5]"});
  expect_error([&] { conv2d_batch_norm(x, randn({4, 2, 3, 3}), Tensor(), one, one, one, 1, bn); },
               {"conv2d_batch_norm", "input channels"});
  BatchNormEval double_stats = bn;
  double_stats.running_mean = bn.running_mean.to(DType::Float64);
  expect_error([&] { conv2d_batch_norm(x, w, Tensor(), one, one, one, 1, double_stats); },
               {"conv2d_batch_norm", "float64", "float32"});
}

// --- batch_norm_conv2d_batch_norm (DenseNet's norm1, relu1, conv1, norm2, relu2) ---

// Exactly the numbers of batch_norm(act), then conv2d_batch_norm: where the
// CPU applies the input's batch norm as the product packs it (float32 1x1,
// its map at least 2 columns wide and more than 64 pixels, a sample per
// product: 56x56 and 14x14, input channels that the product reads in place
// and packs, K in several slices) and where it runs the two ops (a 7x7 map,
// which the direct kernel takes; a 1x1 map; four samples of a small map in
// one product; a 3x3 kernel; ReLU6 on the input; float64; channels-last);
// one and two threads.
TEST(BatchNormConv2dBatchNorm, EqualsTheOpsOneAfterTheOther) {
  NoGradGuard no_grad;
  manual_seed(8);
  const int threads = num_threads();
  struct Case {
    int64_t N, C, OC, H, W, kernel;
  };
  int checked = 0;
  for (int t : {1, 2}) {
    set_num_threads(t);
    for (const Case& c : {Case{1, 96, 128, 56, 56, 1}, Case{1, 300, 128, 14, 14, 1}, Case{2, 40, 24, 9, 13, 1},
                          Case{1, 64, 128, 7, 7, 1}, Case{1, 32, 16, 1, 1, 1}, Case{4, 24, 32, 5, 5, 1},
                          Case{1, 20, 12, 10, 10, 3}}) {
      for (DType dtype : {DType::Float32, DType::Float64}) {
        for (bool channels_last : {false, true}) {
          const MemoryFormat format = channels_last ? MemoryFormat::ChannelsLast : MemoryFormat::Contiguous;
          Tensor x = randn({c.N, c.C, c.H, c.W}).to(dtype).contiguous(format);
          Tensor w = randn({c.OC, c.C, c.kernel, c.kernel}).to(dtype).contiguous(format);
          const BatchNormEval in_bn = random_batch_norm(c.C, dtype, true);
          const BatchNormEval bn = random_batch_norm(c.OC, dtype, (c.C & 1) == 0);
          const Pair pad{c.kernel / 2, c.kernel / 2}, one{1, 1};
          for (FusedActivation in_act : {FusedActivation::Relu, FusedActivation::None, FusedActivation::Relu6}) {
            for (FusedActivation act : {FusedActivation::Relu, FusedActivation::None}) {
              SCOPED_TRACE(cat_str(c.N, "x", c.C, "x", c.H, "x", c.W, " -> ", c.OC, ", kernel ", c.kernel, ", ", t,
                                   " threads, ", dtype_name(dtype), channels_last ? ", channels-last" : "",
                                   ", input activation ", static_cast<int>(in_act), ", activation ",
                                   static_cast<int>(act)));
              const Tensor h = batch_norm(x, in_bn.running_mean, in_bn.running_var, in_bn.weight, in_bn.bias, false,
                                          0.1, in_bn.eps, in_act);
              const Tensor expected = conv2d_batch_norm(h, w, Tensor(), one, pad, one, 1, bn, act);
              const Tensor fused = batch_norm_conv2d_batch_norm(x, in_bn, in_act, w, one, pad, one, 1, bn, act);
              expect_same_bits(fused, expected);
              EXPECT_EQ(is_channels_last(fused), is_channels_last(expected));
              ++checked;
            }
          }
        }
      }
    }
  }
  set_num_threads(threads);
  EXPECT_EQ(checked, 2 * 7 * 2 * 2 * 3 * 2);
}

TEST(BatchNormConv2dBatchNorm, MatchesPyTorch) {
  NoGradGuard no_grad;
  const std::string inner = "F.relu(F.batch_norm(a, b, c, d, e, training=False, eps=1e-5))";
  const std::string conv = cat_str("F.conv2d(", inner, ", f)");
  check_op({in::no_grad(in::randn({1, 40, 12, 12})), in::no_grad(in::randn({40})), in::no_grad(in::positive({40})),
            in::no_grad(in::uniform({40}, -2, 3)), in::no_grad(in::randn({40})),
            in::no_grad(in::randn({24, 40, 1, 1})), in::no_grad(in::randn({24})), in::no_grad(in::positive({24})),
            in::no_grad(in::uniform({24}, -2, 3)), in::no_grad(in::randn({24}))},
           cat_str("F.relu(F.batch_norm(", conv, ", g, h, i, j, training=False, eps=1e-3))"),
           [](const Inputs& x) {
             const BatchNormEval in_bn{x[3], x[4], x[1], x[2], 1e-5}, bn{x[8], x[9], x[6], x[7], 1e-3};
             return batch_norm_conv2d_batch_norm(x[0], in_bn, FusedActivation::Relu, x[5], {1, 1}, {0, 0}, {1, 1}, 1,
                                                 bn, FusedActivation::Relu);
           },
           kAccumulating);
}

TEST(BatchNormConv2dBatchNorm, RefusesWhatItCannotDo) {
  Tensor x = randn({1, 6, 5, 5}), w = randn({4, 6, 1, 1});
  const BatchNormEval in_bn = random_batch_norm(6, DType::Float32, true), bn = random_batch_norm(4, DType::Float32, true);
  const Pair one{1, 1}, zero{0, 0};
  expect_error([&] { batch_norm_conv2d_batch_norm(x.clone().requires_grad_(true), in_bn, FusedActivation::Relu, w, one, zero, one, 1, bn, FusedActivation::Relu); },
               {"batch_norm_conv2d_batch_norm", "inference", "NoGradGuard"});
  NoGradGuard no_grad;
  expect_error([&] { batch_norm_conv2d_batch_norm(x, bn, FusedActivation::Relu, w, one, zero, one, 1, bn, FusedActivation::Relu); },
               {"batch_norm_conv2d_batch_norm", "shape [4]", "6 input channels"});
  expect_error([&] { batch_norm_conv2d_batch_norm(x, in_bn, FusedActivation::Relu, w, one, zero, one, 1, in_bn, FusedActivation::Relu); },
               {"batch_norm_conv2d_batch_norm", "shape [6]", "4 output channels"});
}

// Sequential and the ResNet blocks fold conv + batch norm (+ activation, +
// residual) only at inference: in eval mode under NoGradGuard the result
// is the modules' own, with no graph; with gradients, in training, under
// autocast, with an observer or with fusion off the modules run one by one.
TEST(LayerFusion, ConvolutionFoldsItsBatchNormOnlyAtInference) {
  manual_seed(5);
  auto seq = std::make_shared<Sequential>();
  seq->add(make_conv2d(3, 8, 3, 1, 1, 1, false)).add(std::make_shared<BatchNorm2d>(8)).add(make_relu6());
  seq->add(make_conv2d(8, 8, 3, 2, 1, 8, true)).add(std::make_shared<BatchNorm2d>(8));
  Module& conv = *(*seq)[0];
  Module& bn = *(*seq)[1];
  Tensor x = randn({2, 3, 12, 12});
  seq->train(true);
  (*seq)(x);  // running statistics that are not the initial 0 and 1
  {
    NoGradGuard no_grad;
    EXPECT_FALSE(can_fold_conv_norm(conv, bn, x)) << "training mode";
  }
  seq->eval();
  EXPECT_FALSE(can_fold_conv_norm(conv, bn, x)) << "the parameters need gradients";
  Tensor unfused;
  {
    NoGradGuard no_grad;
    EXPECT_TRUE(can_fold_conv_norm(conv, bn, x));
    EXPECT_FALSE(can_fold_conv_norm(bn, conv, x)) << "not a convolution and its batch norm";
    EXPECT_FALSE(can_fold_conv_norm(conv, bn, x.select(0, 0))) << "an unbatched image";
    {
      LayerFusionGuard off(false);
      EXPECT_FALSE(can_fold_conv_norm(conv, bn, x)) << "fusion off";
      unfused = (*seq)(x);
    }
    {
      AutocastGuard autocast(DType::BFloat16);
      EXPECT_FALSE(can_fold_conv_norm(conv, bn, x)) << "autocast";
    }
    {
      ForwardObserverScope observe([](const Module&, const Tensor&, const Tensor&) {});
      EXPECT_FALSE(can_fold_conv_norm(conv, bn, x)) << "an observer";
    }
    Tensor folded = (*seq)(x);
    EXPECT_EQ(max(abs(folded - unfused)).item<double>(), 0.0);
  }
  Tensor with_grad = (*seq)(x);
  ASSERT_NE(with_grad.grad_fn(), nullptr);
  EXPECT_EQ(with_grad.grad_fn()->name(), "BatchNormBackward");
  EXPECT_EQ(max(abs(with_grad.detach() - unfused)).item<double>(), 0.0);

  // Frozen layers beside a residual that needs its gradient (a trainable
  // shortcut): the block's ending runs its modules instead of refusing.
  {
    for (Tensor& p : seq->parameters()) p.requires_grad_(false);
    Tensor h = randn({2, 3, 12, 12});
    Tensor residual = randn({2, 8, 12, 12}).requires_grad_(true);
    auto relu_module = make_relu();
    Tensor y = conv_norm_add_relu(conv, bn, *relu_module, h, [&] { return residual; });
    ASSERT_NE(y.grad_fn(), nullptr);
    NoGradGuard no_grad;
    Tensor expected = relu(add(bn(conv(h)), residual));
    EXPECT_EQ(max(abs(y.detach() - expected)).item<double>(), 0.0);
  }

  for (const char* name : {"resnet18", "resnet50", "resnet20", "mobilenet_v2", "efficientnet_b0"}) {
    SCOPED_TRACE(name);
    ModulePtr model = create_model(name, 10);
    model->eval();
    Tensor images = randn({2, 3, 64, 64});
    NoGradGuard no_grad;
    Tensor expected;
    {
      LayerFusionGuard off(false);
      expected = (*model)(images);
    }
    Tensor actual = (*model)(images);
    EXPECT_EQ(max(abs(actual - expected)).item<double>(), 0.0);
  }
}

}  // namespace
}  // namespace ember
