// Elementwise ops against PyTorch (forward and backward), broadcasting,
// non-contiguous inputs, type promotion, finite-difference gradients in
// float64, and the errors for bad input.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>

#include "tests/support/oracle.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

// exp, sigmoid, SiLU (and its gradient) and tanh on contiguous float32 take a
// vectorised path (Eigen's polynomial exp and tanh; sigmoid and SiLU a short
// exp of their own, kernels/cpu/sigmoid_span.cpp): every element of a dense
// sweep of [-110, 110] and the special values against double-precision libm:
// relative error at most 4e-7 (a few ulp) wherever the result is above 1e-30
// in magnitude, within 1e-30 below that, overflow to inf, NaN kept.
TEST(Elementwise, VectorisedTranscendentalsAgainstDoubleLibm) {
  std::vector<float> xs;
  for (int i = -220000; i <= 220000; ++i) xs.push_back(static_cast<float>(i) * 5e-4f);
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 88.7f, -87.3f, -103.9f, INFINITY, -INFINITY, NAN}) xs.push_back(v);
  const Tensor x = from_vector(xs, {static_cast<int64_t>(xs.size())});
  struct Case {
    const char* name;
    Tensor (*op)(const Tensor&);
    double (*ref)(double);
    double floor = 0;  // relative to max(|want|, floor): the gradient has a root at x = -1.28
  };
  const Case cases[] = {
      {"exp", [](const Tensor& t) { return exp(t); }, [](double v) { return std::exp(v); }},
      {"sigmoid", [](const Tensor& t) { return sigmoid(t); }, [](double v) { return 1 / (1 + std::exp(-v)); }},
      {"silu", [](const Tensor& t) { return silu(t); }, [](double v) { return v / (1 + std::exp(-v)); }},
      {"tanh", [](const Tensor& t) { return tanh(t); }, [](double v) { return std::tanh(v); }},
      {"silu gradient",
       [](const Tensor& t) {
         Tensor leaf = t.detach().requires_grad_();
         silu(leaf).backward(ones_like(leaf));
         return leaf.grad();
       },
       [](double v) {
         const double s = 1 / (1 + std::exp(-v));
         return s * (1 + v * (1 - s));
       },
       1.0},
  };
  for (const Case& c : cases) {
    const std::vector<float> got = c.op(x).to_vector<float>();
    double worst = 0;
    int64_t bad_specials = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      const double want = c.ref(static_cast<double>(xs[i]));
      const double want_f = static_cast<float>(want);
      if (std::isnan(want) || std::isinf(want_f) || std::fabs(want) < 1e-30) {
        // NaN stays NaN; overflow gives inf; results far below 1 (the float
        // exp underflows here, as in PyTorch) are within 1e-30 of the truth.
        const bool ok = std::isnan(want) ? std::isnan(got[i])
                        : std::isinf(want_f) ? got[i] == want_f
                                             : std::fabs(got[i] - want) <= 1e-30;
        if (!ok) ++bad_specials;
        continue;
      }
      worst = std::max(worst, std::fabs(got[i] - want) / std::max(std::fabs(want), c.floor));
    }
    EXPECT_LE(worst, 4e-7) << c.name;
    EXPECT_EQ(bad_specials, 0) << c.name;
  }
}

TEST(Elementwise, BinaryArithmeticWithBroadcasting) {
  check_op({in::randn({4, 5}), in::randn({4, 5})}, "a + b", [](const Inputs& x) { return x[0] + x[1]; });
  check_op({in::randn({4, 5}), in::randn({5})}, "a - b", [](const Inputs& x) { return x[0] - x[1]; });
  check_op({in::randn({3, 1, 5}), in::randn({4, 1})}, "a * b", [](const Inputs& x) { return x[0] * x[1]; });
  check_op({in::randn({2, 3}), in::positive({2, 3})}, "a / b", [](const Inputs& x) { return x[0] / x[1]; });
  check_op({in::randn({1}), in::randn({7})}, "torch.add(a, b, alpha=2.5)", [](const Inputs& x) { return add(x[0], x[1], 2.5); });
  check_op({in::randn({3, 4}), in::randn({3, 4})}, "torch.sub(a, b, alpha=-0.5)",
           [](const Inputs& x) { return sub(x[0], x[1], -0.5); });
  check_op({in::positive({5, 3}), in::randn({3})}, "torch.pow(a, b)", [](const Inputs& x) { return pow(x[0], x[1]); });
  check_op({in::randn({4, 6}), in::randn({4, 6})}, "torch.maximum(a, b)", [](const Inputs& x) { return maximum(x[0], x[1]); });
  check_op({in::randn({4, 6}), in::randn({6})}, "torch.minimum(a, b)", [](const Inputs& x) { return minimum(x[0], x[1]); });
}

TEST(Elementwise, ScalarOperands) {
  check_op({in::randn({3, 5})}, "a * 3.5 + 1", [](const Inputs& x) { return x[0] * 3.5 + 1; });
  check_op({in::positive({3, 5})}, "2.0 / a - 4", [](const Inputs& x) { return 2.0 / x[0] - 4; });
  check_op({in::positive({2, 7})}, "a ** 2.5", [](const Inputs& x) { return pow(x[0], 2.5); });
  check_op({in::randn({2, 7})}, "a ** 2", [](const Inputs& x) { return pow(x[0], 2); });
  check_op({in::randn({6})}, "3 - a", [](const Inputs& x) { return 3 - x[0]; });
  check_op({in::randn({6})}, "torch.pow(2.0, a)", [](const Inputs& x) { return pow(2.0, x[0]); });
}

TEST(Elementwise, NonContiguousAndBatchOneInputs) {
  check_op({in::randn({5, 4}), in::randn({4, 5})}, "a.t() * b", [](const Inputs& x) { return x[0].t() * x[1]; });
  check_op({in::randn({2, 6, 3})}, "a[:, ::2, :] + 1", [](const Inputs& x) { return x[0].slice(1, 0, 6, 2) + 1; });
  check_op({in::randn({3, 4, 5})}, "torch.sigmoid(a.permute(2, 0, 1))",
           [](const Inputs& x) { return sigmoid(x[0].permute({2, 0, 1})); });
  check_op({in::randn({1, 1, 7})}, "torch.relu(a) * a", [](const Inputs& x) { return relu(x[0]) * x[0]; });
  check_op({in::randn({1, 3})}, "a.expand(4, 3) * 2", [](const Inputs& x) { return x[0].expand({4, 3}) * 2; });
}

TEST(Elementwise, UnaryMath) {
  check_op({in::randn({3, 7})}, "-a", [](const Inputs& x) { return -x[0]; });
  check_op({in::randn({3, 7})}, "torch.abs(a)", [](const Inputs& x) { return abs(x[0]); });
  check_op({in::randn({3, 7})}, "torch.exp(a)", [](const Inputs& x) { return exp(x[0]); });
  check_op({in::positive({3, 7})}, "torch.log(a)", [](const Inputs& x) { return log(x[0]); });
  check_op({in::positive({3, 7})}, "torch.log1p(a)", [](const Inputs& x) { return log1p(x[0]); });
  check_op({in::randn({3, 7})}, "torch.expm1(a)", [](const Inputs& x) { return expm1(x[0]); });
  check_op({in::positive({3, 7})}, "torch.sqrt(a)", [](const Inputs& x) { return sqrt(x[0]); });
  check_op({in::positive({3, 7})}, "torch.rsqrt(a)", [](const Inputs& x) { return rsqrt(x[0]); });
  check_op({in::positive({3, 7})}, "torch.reciprocal(a)", [](const Inputs& x) { return reciprocal(x[0]); });
  check_op({in::randn({3, 7})}, "torch.square(a)", [](const Inputs& x) { return square(x[0]); });
  check_op({in::randn({3, 7})}, "torch.sin(a)", [](const Inputs& x) { return sin(x[0]); });
  check_op({in::randn({3, 7})}, "torch.cos(a)", [](const Inputs& x) { return cos(x[0]); });
  check_op({in::randn({3, 7})}, "torch.erf(a)", [](const Inputs& x) { return erf(x[0]); });
  check_op({in::uniform({3, 7}, -4, 4)}, "torch.floor(a)", [](const Inputs& x) { return floor(x[0]); });
  check_op({in::uniform({3, 7}, -4, 4)}, "torch.ceil(a)", [](const Inputs& x) { return ceil(x[0]); });
  check_op({in::uniform({3, 7}, -4, 4)}, "torch.round(a)", [](const Inputs& x) { return round(x[0]); });
  check_op({in::randn({3, 7})}, "torch.sign(a)", [](const Inputs& x) { return sign(x[0]); });
}

TEST(Elementwise, Activations) {
  check_op({in::randn({4, 9})}, "torch.relu(a)", [](const Inputs& x) { return relu(x[0]); });
  check_op({in::uniform({4, 9}, -8, 8)}, "F.relu6(a)", [](const Inputs& x) { return relu6(x[0]); });
  check_op({in::randn({4, 9})}, "F.leaky_relu(a, 0.2)", [](const Inputs& x) { return leaky_relu(x[0], 0.2); });
  check_op({in::randn({4, 9})}, "torch.sigmoid(a)", [](const Inputs& x) { return sigmoid(x[0]); });
  check_op({in::randn({4, 9})}, "torch.tanh(a)", [](const Inputs& x) { return tanh(x[0]); });
  check_op({in::uniform({4, 9}, -6, 6)}, "F.silu(a)", [](const Inputs& x) { return silu(x[0]); });
  check_op({in::uniform({4, 9}, -5, 5)}, "F.hardswish(a)", [](const Inputs& x) { return hardswish(x[0]); });
  check_op({in::uniform({4, 9}, -5, 5)}, "F.hardsigmoid(a)", [](const Inputs& x) { return hardsigmoid(x[0]); });
  check_op({in::randn({4, 9})}, "F.gelu(a)", [](const Inputs& x) { return gelu(x[0]); });
  check_op({in::randn({4, 9})}, "F.gelu(a, approximate='tanh')", [](const Inputs& x) { return gelu(x[0], "tanh"); });
  check_op({in::uniform({4, 9}, -30, 30)}, "F.softplus(a)", [](const Inputs& x) { return softplus(x[0]); });
  check_op({in::randn({4, 9})}, "torch.clamp(a, -0.5, 0.7)", [](const Inputs& x) { return clamp(x[0], -0.5, 0.7); });
  check_op({in::randn({4, 9})}, "torch.clamp(a, min=0.1)", [](const Inputs& x) { return clamp_min(x[0], 0.1); });
  check_op({in::randn({4, 9})}, "torch.clamp(a, max=0.1)", [](const Inputs& x) { return clamp_max(x[0], 0.1); });
}

TEST(Elementwise, ComparisonsAndWhere) {
  check_op({in::randn({3, 4}), in::randn({4})}, "(a > b, a >= b, a < b, a <= b, a == a, a != b)", [](const Inputs& x) {
    return std::vector<Tensor>{gt(x[0], x[1]), ge(x[0], x[1]), lt(x[0], x[1]), le(x[0], x[1]), eq(x[0], x[0]),
                               ne(x[0], x[1])};
  });
  check_op({in::booleans({3, 4}), in::randn({3, 4}), in::randn({4})}, "torch.where(a, b, c)",
           [](const Inputs& x) { return where(x[0], x[1], x[2]); });
  check_op({in::randn({3, 4}), in::booleans({3, 1})}, "a.masked_fill(b, -2.0)",
           [](const Inputs& x) { return masked_fill(x[0], x[1], -2.0); });
  check_op({in::booleans({5}), in::booleans({5})}, "(torch.logical_and(a, b), torch.logical_or(a, b), torch.logical_not(a))",
           [](const Inputs& x) {
             return std::vector<Tensor>{logical_and(x[0], x[1]), logical_or(x[0], x[1]), logical_not(x[0])};
           });
}

TEST(Elementwise, IntegerTypePromotion) {
  check_op({in::integers({6}, -5, 5), in::integers({6}, -5, 5)}, "a + b * 2", [](const Inputs& x) { return x[0] + x[1] * 2; });
  check_op({in::integers({6}, 1, 5)}, "a / 2", [](const Inputs& x) { return x[0] / 2; });  // true division -> float
  check_op({in::integers({6}, -5, 5, DType::Int32), in::randn({6})}, "a * b", [](const Inputs& x) { return x[0] * x[1]; });
  check_op({in::integers({6}, 0, 4)}, "a * 1.5", [](const Inputs& x) { return x[0] * 1.5; });
  check_op({in::integers({6}, 0, 4)}, "torch.exp(a)", [](const Inputs& x) { return exp(x[0]); });
  check_op({in::integers({6}, -3, 4)}, "a ** 3", [](const Inputs& x) { return pow(x[0], 3); });
  check_op({in::randn({6}, DType::Float64), in::randn({6})}, "a + b", [](const Inputs& x) { return x[0] + x[1]; });
}

TEST(Elementwise, HalfAndBfloat16ComputeInFloat) {
  // The same rounding as PyTorch's CPU kernels: compute in float, round once.
  check_op({in::randn({5, 3}, DType::Float16), in::randn({5, 3}, DType::Float16)}, "a * b + a",
           [](const Inputs& x) { return x[0] * x[1] + x[0]; }, {1e-3, 1e-3});
  check_op({in::randn({5, 3}, DType::BFloat16)}, "torch.sigmoid(a)", [](const Inputs& x) { return sigmoid(x[0]); },
           {1e-2, 1e-2});
}

TEST(Elementwise, FiniteDifferenceGradients) {
  gradcheck([](const Inputs& x) { return x[0] * x[1] + x[0] / x[2]; },
            {leaf64({3, 4}), leaf64({4}), leaf64({3, 4}, 0.5, 2)});
  gradcheck([](const Inputs& x) { return pow(x[0], x[1]) - maximum(x[0], x[1]) + minimum(x[0], x[1]); },
            {leaf64({5}, 0.5, 2), leaf64({5}, -1, 1)});
  gradcheck([](const Inputs& x) { return exp(x[0]) + log(x[1]) + sqrt(x[1]) + rsqrt(x[1]) + reciprocal(x[1]); },
            {leaf64({6}), leaf64({6}, 0.5, 2)});
  gradcheck([](const Inputs& x) { return log1p(x[0]) * expm1(x[0]) + square(x[0]) + abs(x[0]) + erf(x[0]); },
            {leaf64({6}, 0.1, 1)});
  gradcheck([](const Inputs& x) { return sin(x[0]) * cos(x[0]) + tanh(x[0]) + sigmoid(x[0]) + silu(x[0]); },
            {leaf64({7})});
  gradcheck([](const Inputs& x) { return gelu(x[0]) + gelu(x[0], "tanh") + softplus(x[0]) + leaky_relu(x[0], 0.1); },
            {leaf64({7})});
  gradcheck([](const Inputs& x) { return hardswish(x[0]) + hardsigmoid(x[0]) + relu(x[0]) + relu6(x[0] * 4); },
            {from_vector<double>({-3.7, -1.2, 0.4, 1.9, 2.6, 4.1}, {6}).requires_grad_()});
  gradcheck([](const Inputs& x) { return clamp(x[0], -0.5, 0.5) + where(gt(x[0], 0.0), x[0], x[1]); },
            {from_vector<double>({-0.9, -0.2, 0.3, 0.8}, {4}).requires_grad_(), leaf64({4})});
}

TEST(Elementwise, BadInputErrors) {
  expect_error([] { add(zeros({2, 3}), zeros({4})); }, {"add", "[2, 3]", "[4]", "broadcast"});
  expect_error([] { mul(zeros({2}), zeros({3, 1, 5})); }, {"mul", "[2]", "[3, 1, 5]"});
  expect_error([] { where(zeros({2}), zeros({2}), zeros({2})); }, {"where", "bool"});
  expect_error([] { gelu(zeros({2}), "fast"); }, {"gelu", "fast"});
  expect_error([] { Tensor t = zeros({2}, DType::Int64); t.add_(zeros({2})); }, {"add_", "float32", "int64"});
  expect_error([] { Tensor t = zeros({2}); t.add_(zeros({3, 2})); }, {"add_", "[3, 2]", "[2]"});
  // Bounds an integer tensor cannot hold (PyTorch: "value cannot be converted to type uint8_t without overflow").
  expect_error([] { clamp_min(zeros({2}, DType::UInt8), -1); }, {"clamp", "-1", "uint8", "overflow"});
  expect_error([] { clamp_max(zeros({2}, DType::Int32), int64_t{1} << 40); }, {"clamp", "int32", "overflow"});
}

// In-place ops whose input partly shares the written memory, or whose
// output has several elements in one place, depend on the order elements
// are visited (and race on a GPU): refused, as PyTorch refuses them. The
// same tensor as input, or disjoint parts of one storage, are fine.
TEST(Elementwise, InPlaceOverlapIsRefused) {
  expect_error([] { Tensor t = ones({4, 3}); t.div_(t.narrow(0, 0, 1)); }, {"div_", "partly share memory", "clone()"});
  expect_error([] { Tensor t = ones({5}); t.narrow(0, 1, 4).add_(t.narrow(0, 0, 4)); }, {"add_", "partly share memory"});
  expect_error([] { Tensor t = ones({3, 3}); t.copy_(t.t()); }, {"copy_", "partly share memory"});
  expect_error([] { zeros({3}).expand({2, 3}).fill_(1.0); }, {"fill_", "same memory", "[2, 3]"});
  Tensor t = arange(0, 4, 1, TensorOptions(DType::Float32));
  t.add_(t);
  t.narrow(0, 0, 2).add_(t.narrow(0, 2, 2));
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{4, 8, 4, 6}));
  Tensor m = ones({2, 2});
  m.mul_(m.t().t());  // the same view through two transposes
  EXPECT_EQ(m.to_vector<float>(), (std::vector<float>{1, 1, 1, 1}));
}

}  // namespace
}  // namespace ember
