// CUDA elementwise ops against the CPU backend: every unary op and activation
// (forward and backward) in float32 and float64, binary ops with
// broadcasting, scalars and non-contiguous views, comparisons, integer and
// bool arithmetic, where; the vectorised path's tails and misaligned views;
// float16/bfloat16 against float32 with loose tolerances.
#include <cmath>
#include <limits>

#include "tests/cuda/cuda_test_util.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT
using Fn1 = std::function<Tensor(const Tensor&)>;

struct UnaryCase {
  const char* name;
  Fn1 fn;
  bool positive;       // needs inputs in [0.5, 2)
  double scale = 1.0;  // inputs are N(0, scale^2), to reach the interesting range
};

std::vector<UnaryCase> unary_cases() {
  return {
      {"neg", [](const Tensor& x) { return neg(x); }, false},
      {"abs", [](const Tensor& x) { return abs(x); }, false},
      {"sign", [](const Tensor& x) { return sign(x); }, false},
      {"exp", [](const Tensor& x) { return exp(x); }, false},
      {"log", [](const Tensor& x) { return log(x); }, true},
      {"log1p", [](const Tensor& x) { return log1p(x); }, true},
      {"expm1", [](const Tensor& x) { return expm1(x); }, false},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, true},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }, true},
      {"reciprocal", [](const Tensor& x) { return reciprocal(x); }, true},
      {"square", [](const Tensor& x) { return square(x); }, false},
      {"sin", [](const Tensor& x) { return sin(x); }, false},
      {"cos", [](const Tensor& x) { return cos(x); }, false},
      {"erf", [](const Tensor& x) { return erf(x); }, false},
      {"floor", [](const Tensor& x) { return floor(x); }, false, 3.0},
      {"ceil", [](const Tensor& x) { return ceil(x); }, false, 3.0},
      {"round", [](const Tensor& x) { return round(x); }, false, 3.0},
      {"relu", [](const Tensor& x) { return relu(x); }, false},
      {"relu6", [](const Tensor& x) { return relu6(x); }, false, 4.0},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.2); }, false},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, false},
      {"tanh", [](const Tensor& x) { return tanh(x); }, false},
      {"silu", [](const Tensor& x) { return silu(x); }, false},
      {"hardswish", [](const Tensor& x) { return hardswish(x); }, false, 3.0},
      {"hardsigmoid", [](const Tensor& x) { return hardsigmoid(x); }, false, 3.0},
      {"gelu", [](const Tensor& x) { return gelu(x); }, false},
      {"gelu_tanh", [](const Tensor& x) { return gelu(x, "tanh"); }, false},
      {"softplus", [](const Tensor& x) { return softplus(x); }, false, 10.0},
      {"clamp", [](const Tensor& x) { return clamp(x, -0.5, 0.7); }, false},
      {"clamp_min", [](const Tensor& x) { return clamp_min(x, 0.1); }, false},
      {"pow 2", [](const Tensor& x) { return pow(x, 2.0); }, false},
      {"pow 0.5", [](const Tensor& x) { return pow(x, 0.5); }, true},
      {"pow 3.5", [](const Tensor& x) { return pow(x, 3.5); }, true},
  };
}

Tensor unary_input(const Shape& shape, const UnaryCase& c, DType dtype) {
  if (c.positive) return unif(shape, 0.5, 2.0, true, dtype);
  Tensor x = mul(randn(shape, TensorOptions(dtype)), c.scale);
  return x.requires_grad_(true);
}

TEST(CudaElementwise, UnaryOpsAndActivationsMatchCpu) {
  EMBER_REQUIRE_CUDA();
  manual_seed(1);
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (const UnaryCase& c : unary_cases()) {
      for (const Shape& shape : std::vector<Shape>{{1}, {7, 13}, {2, 3, 67}, {1000}}) {
        compare_with_cpu({unary_input(shape, c, dtype)}, [&](const std::vector<Tensor>& v) { return c.fn(v[0]); },
                         kElementwiseTol, std::string(c.name) + " " + dtype_name(dtype));
      }
      // A transposed (non-contiguous) input.
      compare_with_cpu({unary_input({9, 5}, c, dtype)},
                       [&](const std::vector<Tensor>& v) { return c.fn(v[0].transpose(0, 1)); }, kElementwiseTol,
                       std::string(c.name) + " transposed " + dtype_name(dtype));
    }
  }
}

TEST(CudaElementwise, VectorTailsAndMisalignedViews) {
  EMBER_REQUIRE_CUDA();
  manual_seed(2);
  // Sizes that leave a tail after the 16-byte vectors, and views starting off
  // a 16-byte boundary (the strided fallback).
  for (int64_t n : {1, 3, 4, 5, 1023, 1000003}) {
    compare_with_cpu({rnd({n}), rnd({n})}, [](const std::vector<Tensor>& v) { return add(mul(v[0], v[1]), v[0]); },
                     kElementwiseTol, "mul-add n=" + std::to_string(n));
    if (n > 2) {
      compare_with_cpu({rnd({n})}, [n](const std::vector<Tensor>& v) { return sigmoid(v[0].narrow(0, 1, n - 2)); },
                       kElementwiseTol, "misaligned view n=" + std::to_string(n));
    }
  }
}

TEST(CudaElementwise, BinaryOpsWithBroadcastingAndScalars) {
  EMBER_REQUIRE_CUDA();
  manual_seed(3);
  using Fn2 = std::function<Tensor(const Tensor&, const Tensor&)>;
  std::vector<std::pair<const char*, Fn2>> ops = {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }},
      {"add alpha", [](const Tensor& a, const Tensor& b) { return add(a, b, 0.5); }},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }},
      {"sub alpha", [](const Tensor& a, const Tensor& b) { return sub(a, b, 3); }},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, add(abs(b), 0.5)); }},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(add(abs(a), 0.5), b); }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }},
  };
  std::vector<std::pair<Shape, Shape>> shapes = {
      {{4, 5}, {4, 5}}, {{4, 5}, {5}}, {{3, 1, 6}, {1, 4, 1}}, {{2, 3, 4, 5}, {3, 1, 1}}, {{6}, {}}, {{1}, {1}}};
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (const auto& [name, fn] : ops) {
      for (const auto& [sa, sb] : shapes) {
        compare_with_cpu({rnd(sa, true, dtype), rnd(sb, true, dtype)},
                         [&](const std::vector<Tensor>& v) { return fn(v[0], v[1]); }, kElementwiseTol,
                         std::string(name) + " " + dtype_name(dtype));
      }
      compare_with_cpu({rnd({6, 4}, true, dtype), rnd({4, 6}, true, dtype)},
                       [&](const std::vector<Tensor>& v) { return fn(v[0].t(), v[1]); }, kElementwiseTol,
                       std::string(name) + " transposed " + dtype_name(dtype));
    }
  }
  // Python-style scalars (a broadcast 0-d operand: the flat kernel's scalar path).
  compare_with_cpu({rnd({1001})}, [](const std::vector<Tensor>& v) { return add(mul(v[0], 2.5), 1.0); },
                   kElementwiseTol, "x * 2.5 + 1");
  compare_with_cpu({rnd({33})}, [](const std::vector<Tensor>& v) { return 2.0 / add(abs(v[0]), 1.0); },
                   kElementwiseTol, "2 / x");
}

TEST(CudaElementwise, ComparisonsAndLogicalOps) {
  EMBER_REQUIRE_CUDA();
  manual_seed(4);
  // Small integers as floats, so that ties occur.
  Tensor a = floor(uniform({5, 7}, -3, 3)), b = floor(uniform({7}, -3, 3));
  using Fn2 = std::function<Tensor(const Tensor&, const Tensor&)>;
  std::vector<std::pair<const char*, Fn2>> ops = {
      {"eq", [](const Tensor& x, const Tensor& y) { return eq(x, y); }},
      {"ne", [](const Tensor& x, const Tensor& y) { return ne(x, y); }},
      {"lt", [](const Tensor& x, const Tensor& y) { return lt(x, y); }},
      {"le", [](const Tensor& x, const Tensor& y) { return le(x, y); }},
      {"gt", [](const Tensor& x, const Tensor& y) { return gt(x, y); }},
      {"ge", [](const Tensor& x, const Tensor& y) { return ge(x, y); }},
      {"and", [](const Tensor& x, const Tensor& y) { return logical_and(x, y); }},
      {"or", [](const Tensor& x, const Tensor& y) { return logical_or(x, y); }},
  };
  for (DType dtype : {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::UInt8, DType::Float16}) {
    Tensor x = dtype == DType::UInt8 ? add(a, 3.0).to(dtype) : a.to(dtype);
    Tensor y = dtype == DType::UInt8 ? add(b, 3.0).to(dtype) : b.to(dtype);
    for (const auto& [name, fn] : ops) {
      compare_with_cpu({x, y}, [&](const std::vector<Tensor>& v) { return fn(v[0], v[1]); }, kElementwiseTol,
                       std::string(name) + " " + dtype_name(dtype));
    }
  }
  Tensor m = gt(a, 0.0), n = lt(b, 1.0);
  compare_with_cpu({m, n}, [](const std::vector<Tensor>& v) { return logical_and(v[0], v[1]); }, kElementwiseTol, "bool and");
  compare_with_cpu({m}, [](const std::vector<Tensor>& v) { return logical_not(v[0]); }, kElementwiseTol, "bool not");
  compare_with_cpu({a}, [](const std::vector<Tensor>& v) { return logical_not(v[0]); }, kElementwiseTol, "float not");
}

TEST(CudaElementwise, IntegerArithmetic) {
  EMBER_REQUIRE_CUDA();
  manual_seed(5);
  for (DType dtype : {DType::Int32, DType::Int64, DType::UInt8}) {
    Tensor a = floor(uniform({6, 5}, 0, 9)).to(dtype), b = floor(uniform({5}, 1, 4)).to(dtype);
    auto check = [&](const char* name, std::function<Tensor(const Tensor&, const Tensor&)> fn) {
      compare_with_cpu({a, b}, [&](const std::vector<Tensor>& v) { return fn(v[0], v[1]); }, kElementwiseTol,
                       std::string(name) + " " + dtype_name(dtype));
    };
    check("add", [](const Tensor& x, const Tensor& y) { return add(x, y); });
    check("sub", [](const Tensor& x, const Tensor& y) { return sub(x, y); });
    check("mul", [](const Tensor& x, const Tensor& y) { return mul(x, y); });
    check("pow", [](const Tensor& x, const Tensor& y) { return pow(x, y); });
    check("maximum", [](const Tensor& x, const Tensor& y) { return maximum(x, y); });
    check("minimum", [](const Tensor& x, const Tensor& y) { return minimum(x, y); });
    check("div (true division)", [](const Tensor& x, const Tensor& y) { return div(x, y); });
    check("scalar", [](const Tensor& x, const Tensor&) { return add(mul(x, 3), 2); });
    check("clamp", [](const Tensor& x, const Tensor&) { return clamp(x, 2, 6); });
    check("square", [](const Tensor& x, const Tensor&) { return square(x); });
    check("pow scalar", [](const Tensor& x, const Tensor&) { return pow(x, 3); });
    if (dtype != DType::UInt8) {
      check("neg abs sign", [](const Tensor& x, const Tensor&) { return sign(abs(neg(sub(x, 4)))); });
    }
  }
}

TEST(CudaElementwise, WhereAndMaskedFill) {
  EMBER_REQUIRE_CUDA();
  manual_seed(6);
  Tensor c = gt(randn({4, 1, 6}), 0.0);
  for (DType dtype : {DType::Float32, DType::Float64, DType::Int64, DType::Int32, DType::UInt8, DType::Bool,
                      DType::Float16, DType::BFloat16}) {
    Tensor a = floor(uniform({4, 5, 6}, 0, 5)).to(dtype), b = floor(uniform({5, 1}, 0, 5)).to(dtype);
    bool grad = is_floating(dtype);
    if (grad && dtype != DType::Float16 && dtype != DType::BFloat16) {
      a.requires_grad_(true);
      b.requires_grad_(true);
    }
    compare_with_cpu({c, a, b}, [](const std::vector<Tensor>& v) { return where(v[0], v[1], v[2]); }, kElementwiseTol,
                     std::string("where ") + dtype_name(dtype));
  }
  compare_with_cpu({rnd({3, 8}), c.reshape({4, 6}).narrow(0, 0, 3).narrow(1, 0, 1)},
                   [](const std::vector<Tensor>& v) { return masked_fill(v[0], v[1], -1.5); }, kElementwiseTol,
                   "masked_fill");
  compare_with_cpu({rnd({5, 4})}, [](const std::vector<Tensor>& v) { return where(gt(v[0], 0.0), v[0].t().t(), 0.0); },
                   kElementwiseTol, "where scalar");
}

TEST(CudaElementwise, NanPropagation) {
  EMBER_REQUIRE_CUDA();
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  Tensor x = from_vector<float>({nan, 1.0f, -2.0f, inf, -inf, 0.0f}, {6});
  Tensor y = from_vector<float>({0.5f, nan, -3.0f, 1.0f, nan, -0.0f}, {6});
  for (auto fn : std::vector<std::function<Tensor(const std::vector<Tensor>&)>>{
           [](const std::vector<Tensor>& v) { return maximum(v[0], v[1]); },
           [](const std::vector<Tensor>& v) { return minimum(v[0], v[1]); },
           [](const std::vector<Tensor>& v) { return relu(v[0]); },
           [](const std::vector<Tensor>& v) { return clamp(v[0], -1.0, 1.0); },
           [](const std::vector<Tensor>& v) { return sigmoid(v[0]); },
           [](const std::vector<Tensor>& v) { return mul(v[0], v[1]); }}) {
    compare_with_cpu({x, y}, fn, kElementwiseTol, "NaN and inf");
  }
}

// 16-bit floats compute in float and round to 16 bits: compare the CUDA
// float16/bfloat16 result with CUDA float32 on the same (rounded) inputs.
TEST(CudaElementwise, HalfAndBFloat16AgainstFloat32) {
  EMBER_REQUIRE_CUDA();
  manual_seed(7);
  for (DType dtype : {DType::Float16, DType::BFloat16}) {
    const double tol = dtype == DType::Float16 ? 2e-3 : 1.6e-2;  // about 2 ulp of the result's magnitude
    for (const UnaryCase& c : unary_cases()) {
      Tensor x16 = unary_input({3, 257}, c, DType::Float32).detach().to(dtype).to(kCuda);
      Tensor x32 = x16.to(DType::Float32);
      Tensor y16 = c.fn(x16), y32 = c.fn(x32);
      EXPECT_EQ(y16.dtype(), dtype) << c.name;
      EXPECT_LE(relative_error(y16.to(DType::Float32).cpu(), y32.to(dtype).to(DType::Float32).cpu()), tol)
          << c.name << " " << dtype_name(dtype);
    }
    Tensor a16 = randn({64, 33}).to(dtype).to(kCuda), b16 = randn({33}).to(dtype).to(kCuda);
    Tensor a32 = a16.to(DType::Float32), b32 = b16.to(DType::Float32);
    for (auto fn : std::vector<std::function<Tensor(const Tensor&, const Tensor&)>>{
             [](const Tensor& a, const Tensor& b) { return add(a, b); },
             [](const Tensor& a, const Tensor& b) { return mul(a, b); },
             [](const Tensor& a, const Tensor& b) { return div(a, add(abs(b), 1.0)); },
             [](const Tensor& a, const Tensor& b) { return maximum(a, b); }}) {
      EXPECT_LE(relative_error(fn(a16, b16).to(DType::Float32).cpu(), fn(a32, b32).to(dtype).to(DType::Float32).cpu()),
                tol)
          << dtype_name(dtype);
    }
    // Activation gradients in 16 bits.
    Tensor x = randn({100}).to(dtype).to(kCuda).requires_grad_(true);
    Tensor x32 = x.detach().to(DType::Float32).requires_grad_(true);
    sum(silu(x)).backward();
    sum(silu(x32)).backward();
    EXPECT_LE(relative_error(x.grad().to(DType::Float32).cpu(), x32.grad().cpu()), 2 * tol) << dtype_name(dtype);
  }
}

TEST(CudaElementwise, InPlaceOps) {
  EMBER_REQUIRE_CUDA();
  manual_seed(8);
  Tensor a = randn({5, 6}), b = randn({6});
  Tensor ac = a.clone(), ag = a.to(kCuda);
  ac.add_(b, 2).mul_(1.5).clamp_(-1, 1).relu_();
  ag.add_(b.to(kCuda), 2).mul_(1.5).clamp_(-1, 1).relu_();
  EXPECT_LE(cuda_error(ag, ac), 1e-6);
  Tensor cc = a.clone(), cg = a.to(kCuda);
  cc.t().copy_(b.reshape({6, 1}));  // copy into a strided view with broadcasting
  cg.t().copy_(b.reshape({6, 1}));  // from the CPU: a cross-device copy
  EXPECT_EQ(cuda_error(cg, cc), 0);
}

}  // namespace
}  // namespace ember
