// Channels-last (NHWC) tensors: the layout rules against hand-checked
// strides, the NHWC kernels (convolution, depthwise convolution, batch norm
// with its activations, pooling) against PyTorch fed the same values, finite
// differences in float64, and whole models laid out channels-last against
// the same models in NCHW.
#include <gtest/gtest.h>

#include "engine/optim/optimizer.h"
#include "kernels/elementwise_dims.h"
#include "layers/layers.h"
#include "models/registry.h"
#include "tests/support/oracle.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

constexpr MemoryFormat kCL = MemoryFormat::ChannelsLast;

Tensor nhwc(const Tensor& t) { return t.contiguous(kCL); }

TEST(ChannelsLast, LayoutRules) {
  Tensor x = arange(120).to(DType::Float32).reshape({2, 3, 4, 5});
  Tensor y = nhwc(x);
  EXPECT_EQ(y.strides(), (Shape{60, 1, 15, 3}));
  EXPECT_TRUE(y.is_contiguous(kCL));
  EXPECT_FALSE(y.is_contiguous());
  EXPECT_EQ(suggest_memory_format(y), kCL);
  EXPECT_EQ(relative_error(y.to(DType::Float64), x.to(DType::Float64)), 0.0);
  // Element (n=1, c=2, h=3, w=4) sits at 60 + 2 + 45 + 12 in memory.
  EXPECT_EQ(y.data<float>()[60 + 2 + 45 + 12], 1 * 60 + 2 * 20 + 3 * 5 + 4);
  EXPECT_TRUE(y.contiguous().is_contiguous());
  EXPECT_EQ(y.contiguous().to_vector<float>(), x.to_vector<float>());
  // Copies, conversions and the *_like factories keep the layout.
  EXPECT_TRUE(y.clone().is_contiguous(kCL));
  EXPECT_TRUE(y.to(DType::Float64).is_contiguous(kCL));
  EXPECT_TRUE(empty_like(y).is_contiguous(kCL));
  EXPECT_TRUE(zeros_like(y).is_contiguous(kCL));
  // Layouts that coincide (one channel, or a 1x1 plane) count as NCHW.
  EXPECT_EQ(suggest_memory_format(nhwc(randn({2, 1, 3, 3}))), MemoryFormat::Contiguous);
  EXPECT_EQ(suggest_memory_format(nhwc(randn({2, 5, 1, 1}))), MemoryFormat::Contiguous);
  // Elementwise results follow a full-shaped channels-last operand, also
  // when the other one broadcasts (a per-channel bias).
  EXPECT_TRUE(relu(y).is_contiguous(kCL));
  EXPECT_TRUE(add(y, randn({1, 3, 1, 1})).is_contiguous(kCL));
  EXPECT_TRUE(add(randn({2, 3, 4, 5}), y).is_contiguous(kCL));
  EXPECT_TRUE(cat({y, nhwc(randn({2, 2, 4, 5}))}, 1).is_contiguous(kCL));
  EXPECT_EQ(relative_error(cat({y, y}, 1).to(DType::Float64), cat({x, x}, 1).to(DType::Float64)), 0.0);
  expect_error([&] { randn({2, 3}).contiguous(kCL); }, {"contiguous", "4-D"});
}

// The layout of each result is checked inside the Ember lambda, the values
// against PyTorch given the same tensors in channels_last.
Tensor expect_nhwc(const Tensor& t) {
  EXPECT_TRUE(t.is_contiguous(kCL)) << "a result of shape " << shape_str(t.shape()) << " is not channels-last";
  return t;
}

struct ConvCase {
  Shape x, w;
  Pair stride, padding, dilation;
  int64_t groups;
  bool bias;
};

// The elementwise loops' iteration space (kernels/elementwise_dims.h, shared
// by the CPU loop and the CUDA kernels): walked in the output's memory
// order, so operands laid out alike, NHWC included, merge into one run (the
// CUDA kernel's vectorised case), and a per-channel operand broadcast over an
// NHWC output has the channels innermost.
TEST(ChannelsLast, ElementwiseLoopsWalkTheOutputsMemoryOrder) {
  Tensor a = nhwc(randn({2, 3, 4, 5})), b = nhwc(randn({2, 3, 4, 5})), out = empty_like(a);
  ElementwiseDims<3> same = elementwise_dims<3>({&out, &a, &b});
  EXPECT_EQ(same.sizes, (std::vector<int64_t>{120}));
  EXPECT_EQ(same.strides, (std::vector<std::array<int64_t, 3>>{{1, 1, 1}}));
  Tensor bias = randn({1, 3, 1, 1}).expand({2, 3, 4, 5});
  ElementwiseDims<2> per_channel = elementwise_dims<2>({&out, &bias});
  EXPECT_EQ(per_channel.sizes, (std::vector<int64_t>{40, 3}));
  EXPECT_EQ(per_channel.strides, (std::vector<std::array<int64_t, 2>>{{3, 0}, {1, 1}}));
  // An NHWC output from an NCHW input: the output is written in order (channels innermost).
  Tensor nchw = randn({2, 3, 4, 5});
  ElementwiseDims<2> mixed = elementwise_dims<2>({&out, &nchw});
  EXPECT_EQ(mixed.sizes, (std::vector<int64_t>{2, 20, 3}));
  EXPECT_EQ(mixed.strides, (std::vector<std::array<int64_t, 2>>{{60, 60}, {3, 1}, {1, 20}}));
  // A single element has no dims; size-1 dims are dropped.
  Tensor one = randn({1, 1, 1, 1});
  EXPECT_TRUE(elementwise_dims<1>({&one}).sizes.empty());
  // And the results: an NHWC sum with a broadcast bias equals the NCHW one.
  EXPECT_EQ(relative_error(add(a, bias).contiguous(), add(a.contiguous(), bias)), 0.0);
}

TEST(ChannelsLast, Conv2dMatchesPyTorch) {
  const ConvCase cases[] = {
      {{2, 5, 9, 8}, {7, 5, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, true},   // im2col, stride 1
      {{2, 4, 11, 9}, {6, 4, 3, 3}, {2, 2}, {1, 2}, {2, 1}, 1, false}, // stride, uneven padding, dilation
      {{3, 8, 5, 6}, {12, 8, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1, true},  // pointwise: a plain product
      {{2, 8, 7, 7}, {16, 8, 1, 1}, {2, 2}, {0, 0}, {1, 1}, 1, false}, // 1x1 stride 2 (ResNet's downsample)
      {{2, 3, 15, 15}, {8, 3, 7, 7}, {2, 2}, {3, 3}, {1, 1}, 1, false},// the stem: three input channels
      {{2, 6, 9, 9}, {6, 1, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 6, true},   // depthwise 3x3
      {{2, 6, 10, 9}, {6, 1, 5, 5}, {2, 2}, {2, 2}, {1, 1}, 6, false}, // depthwise 5x5 stride 2
      {{1, 4, 8, 8}, {4, 1, 3, 3}, {1, 2}, {2, 1}, {2, 1}, 4, false},  // depthwise, dilated, mixed strides
      {{2, 6, 6, 5}, {8, 3, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 2, true},   // grouped: the NCHW fallback
      {{2, 3, 6, 5}, {6, 1, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 3, false},  // depthwise multiplier 2: fallback
  };
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(cat_str("x ", shape_str(c.x), " w ", shape_str(c.w), " groups ", c.groups));
    std::vector<InputSpec> inputs{in::randn(c.x), in::randn(c.w)};
    if (c.bias) inputs.push_back(in::randn({c.w[0]}));
    const std::string expr = cat_str("F.conv2d(a.contiguous(memory_format=torch.channels_last), b, ",
                                     c.bias ? "c" : "None", ", (", c.stride[0], ", ", c.stride[1], "), (",
                                     c.padding[0], ", ", c.padding[1], "), (", c.dilation[0], ", ", c.dilation[1],
                                     "), ", c.groups, ")");
    check_op(inputs, expr, [&](const Inputs& x) {
      return expect_nhwc(conv2d(nhwc(x[0]), nhwc(x[1]), c.bias ? x[2] : Tensor(), c.stride, c.padding, c.dilation,
                                c.groups));
    }, kAccumulating);
  }
  // Only the input in channels-last, or only the weight: the result is channels-last either way.
  check_op({in::randn({2, 4, 6, 6}), in::randn({5, 4, 3, 3})}, "F.conv2d(a, b, padding=1)",
           [](const Inputs& x) { return expect_nhwc(conv2d(x[0], nhwc(x[1]), Tensor(), {1, 1}, {1, 1})); },
           kAccumulating);
  check_op({in::randn({2, 4, 6, 6}), in::randn({5, 4, 3, 3})}, "F.conv2d(a, b, stride=2)",
           [](const Inputs& x) { return expect_nhwc(conv2d(nhwc(x[0]), x[1], Tensor(), {2, 2})); }, kAccumulating);
}

struct ActivationCase {
  FusedActivation act;
  const char* torch;
};
const ActivationCase kActivations[] = {{FusedActivation::None, ""},
                                       {FusedActivation::Relu, "F.relu"},
                                       {FusedActivation::Relu6, "F.relu6"},
                                       {FusedActivation::Silu, "F.silu"},
                                       {FusedActivation::Hardswish, "F.hardswish"}};

TEST(ChannelsLast, BatchNormMatchesPyTorch) {
  for (const auto& c : kActivations) {
    SCOPED_TRACE(c.torch);
    // Weight and bias spread so every branch of each activation's derivative is taken.
    auto inputs = [](const Shape& x) {
      return std::vector<InputSpec>{in::randn(x), in::uniform({x[1]}, -4, 4), in::uniform({x[1]}, -1, 5),
                                    in::no_grad(in::randn({x[1]})), in::no_grad(in::positive({x[1]}))};
    };
    for (const Shape& shape : {Shape{4, 6, 5, 3}, Shape{2, 70, 2, 2}, Shape{2, 130, 9, 9}})
    check_op(inputs(shape),
             cat_str("(", c.torch, "(F.batch_norm(a.contiguous(memory_format=torch.channels_last), d, e, b, c, ",
                     "training=True, momentum=0.2, eps=1e-3)), d, e)"),
             [&](const Inputs& x) {
               Tensor rm = x[3].detach().clone(), rv = x[4].detach().clone();
               Tensor y = expect_nhwc(batch_norm(nhwc(x[0]), rm, rv, x[1], x[2], true, 0.2, 1e-3, c.act));
               return std::vector<Tensor>{y, rm, rv};
             },
             kAccumulating);
    check_op(inputs({3, 70, 2, 3}), cat_str(c.torch, "(F.batch_norm(a, d, e, b, c, training=False))"),
             [&](const Inputs& x) {
               return expect_nhwc(batch_norm(nhwc(x[0]), x[3], x[4], x[1], x[2], false, 0.1, 1e-5, c.act));
             },
             kAccumulating);
  }
}

TEST(ChannelsLast, PoolingMatchesPyTorch) {
  const std::string a = "a.contiguous(memory_format=torch.channels_last)";
  check_op({in::randn({2, 5, 9, 8})}, "F.max_pool2d(" + a + ", 3, 2, 1)",
           [](const Inputs& x) { return expect_nhwc(max_pool2d(nhwc(x[0]), {3, 3}, {2, 2}, {1, 1})); });
  check_op({in::randn({2, 5, 9, 8})}, "F.max_pool2d(" + a + ", (3, 2), (2, 1), (1, 1), (2, 1), ceil_mode=True)",
           [](const Inputs& x) {
             return expect_nhwc(max_pool2d(nhwc(x[0]), {3, 2}, {2, 1}, {1, 1}, {2, 1}, true));
           });
  // The indices (positions h * W + w within each plane) match PyTorch's too.
  check_op({in::randn({2, 4, 6, 7})}, "F.max_pool2d(" + a + ", 2, return_indices=True)[1]", [](const Inputs& x) {
    return max_pool2d_with_indices(nhwc(x[0]), {2, 2}, {2, 2}).second;
  });
  for (bool include_pad : {true, false}) {
    check_op({in::randn({2, 5, 9, 8})},
             cat_str("F.avg_pool2d(", a, ", 3, 2, 1, ceil_mode=True, count_include_pad=", include_pad ? "True" : "False",
                     ")"),
             [&](const Inputs& x) {
               return expect_nhwc(avg_pool2d(nhwc(x[0]), {3, 3}, {2, 2}, {1, 1}, true, include_pad));
             });
  }
  check_op({in::randn({2, 6, 4, 4})}, "F.avg_pool2d(" + a + ", 2)",
           [](const Inputs& x) { return expect_nhwc(avg_pool2d(nhwc(x[0]), {2, 2})); });
  check_op({in::randn({3, 7, 5, 7})}, "F.adaptive_avg_pool2d(" + a + ", (3, 2))",
           [](const Inputs& x) { return expect_nhwc(adaptive_avg_pool2d(nhwc(x[0]), {3, 2})); });
  check_op({in::randn({3, 7, 7, 7})}, "F.adaptive_avg_pool2d(" + a + ", 1)",
           [](const Inputs& x) { return adaptive_avg_pool2d(nhwc(x[0]), {1, 1}); });
}

TEST(ChannelsLast, FiniteDifferenceGradients) {
  gradcheck([](const Inputs& x) { return conv2d(nhwc(x[0]), nhwc(x[1]), x[2], {2, 1}, {1, 2}, {1, 2}); },
            {leaf64({2, 3, 6, 7}), leaf64({4, 3, 3, 3}), leaf64({4})});
  gradcheck([](const Inputs& x) { return conv2d(nhwc(x[0]), x[1], Tensor(), {2, 2}, {1, 1}, {1, 1}, 3); },
            {leaf64({2, 3, 7, 6}), leaf64({3, 1, 3, 3})});
  gradcheck([](const Inputs& x) {
    return batch_norm(nhwc(x[0]), Tensor(), Tensor(), x[1], x[2], true, 0.1, 1e-5, FusedActivation::Silu);
  }, {leaf64({3, 4, 2, 3}), leaf64({4}, 1, 3), leaf64({4}, 0, 3)});
  gradcheck([](const Inputs& x) { return avg_pool2d(nhwc(x[0]), {3, 3}, {2, 2}, {1, 1}, false, false); },
            {leaf64({2, 3, 5, 6})});
  gradcheck([](const Inputs& x) { return adaptive_avg_pool2d(nhwc(x[0]), {2, 3}); }, {leaf64({2, 3, 5, 7})});
  gradcheck([](const Inputs& x) { return max_pool2d(nhwc(x[0]), {2, 2}, {2, 2}); }, {leaf64({2, 3, 4, 6})});
}

// A loss with no symmetry (a fixed random weighting of the logits; the
// mean square of a training-mode network's logits is nearly invariant to
// its early weights, leaving gradients that are mostly rounding) and every
// parameter's gradient, with the dropout masks seeded alike.
NamedTensors loss_and_gradients(Module& model, const Tensor& x) {
  manual_seed(7);
  model.zero_grad();
  Tensor logits = model(x);
  Tensor loss = sum(logits * uniform(logits.shape(), -1, 1, TensorOptions(logits.dtype())));
  loss.backward();
  NamedTensors out{{"loss", loss.detach()}};
  for (auto& [name, p] : model.named_parameters()) out.emplace_back(name, p.grad().contiguous());
  return out;
}

// Each model laid out channels-last gives the NCHW model's loss and
// gradients, in training and evaluation. In float64: these randomly
// initialised deep networks (batch statistics over two images, or running
// statistics one step from their initial values) amplify float32 rounding,
// so any change of summation order, the layout's included, moves their
// gradients' third digit; float64 shows the two layouts compute the same
// function. The float32 kernels are checked against PyTorch above.
TEST(ChannelsLast, ModelsMatchNchw) {
  for (const char* name : {"resnet18", "resnet50", "densenet121", "mobilenet_v2", "efficientnet_b0"}) {
    SCOPED_TRACE(name);
    manual_seed(3);
    ModulePtr nchw = create_model(name, 10);
    ModulePtr cl = create_model(name, 10);
    cl->load_state_dict(nchw->state_dict());
    cl->to(kCL);
    for (bool training : {true, false}) {
      const DType dtype = DType::Float64;
      const double tolerance = 1e-9;
      nchw->to(dtype);
      cl->to(dtype);
      nchw->train(training);
      cl->train(training);
      Tensor x = randn({2, 3, 64, 64}, TensorOptions(dtype));
      NamedTensors want = loss_and_gradients(*nchw, x);
      NamedTensors got = loss_and_gradients(*cl, nhwc(x));
      ASSERT_EQ(got.size(), want.size());
      EXPECT_LT(relative_error(got[0].second.to(DType::Float64), want[0].second.to(DType::Float64)), tolerance);
      // Some gradients are zero but for rounding (the bias of a batch norm
      // whose output only reaches the loss through a training-mode batch
      // norm): each is measured against the largest gradient / 1000.
      double largest = 0;
      for (size_t i = 1; i < want.size(); ++i) largest = std::max(largest, max(abs(want[i].second)).item<double>());
      for (size_t i = 1; i < got.size(); ++i) {
        const Tensor& expected = want[i].second;
        const double scale = std::max(max(abs(expected)).item<double>(), largest * 1e-3);
        const double error = max(abs(got[i].second - expected)).item<double>() / scale;
        EXPECT_LT(error, tolerance) << got[i].first << (training ? " (training)" : " (eval)");
      }
      EXPECT_TRUE(cl->named_parameters().front().second.is_contiguous(kCL));
    }
  }
}

// The fused Adam step runs on channels-last weights and their state as flat
// arrays and gives the NCHW step's numbers; the state stays channels-last.
TEST(ChannelsLast, OptimizerStepsOnChannelsLastWeights) {
  manual_seed(5);
  ModulePtr nchw = create_model("resnet18", 10);
  ModulePtr cl = create_model("resnet18", 10);
  cl->load_state_dict(nchw->state_dict());
  cl->to(kCL);
  // Float64 (see above), in evaluation: in training some gradients are zero
  // but for rounding, and Adam's normalisation would turn that rounding into
  // full-size steps.
  nchw->to(DType::Float64);
  cl->to(DType::Float64);
  nchw->eval();
  cl->eval();
  Tensor x = randn({2, 3, 32, 32}, TensorOptions(DType::Float64));
  auto params = [](Module& m) {
    std::vector<Tensor> p;
    for (auto& [_, t] : m.named_parameters()) p.push_back(t);
    return p;
  };
  Adam a(single_group(params(*nchw), 1e-2, 0.0)), b(single_group(params(*cl), 1e-2, 0.0));
  for (int step = 0; step < 3; ++step) {
    loss_and_gradients(*nchw, x);
    loss_and_gradients(*cl, nhwc(x));
    a.step();
    b.step();
  }
  const Tensor conv1 = cl->named_parameters().front().second;
  EXPECT_TRUE(conv1.is_contiguous(kCL));
  EXPECT_TRUE(b.state(0, 0).at("exp_avg").is_contiguous(kCL));
  NamedTensors want = nchw->state_dict(), got = cl->state_dict();
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_LT(relative_error(got[i].second.to(DType::Float64), want[i].second.to(DType::Float64)), 1e-9)
        << got[i].first;
  }
}

}  // namespace
}  // namespace ember
