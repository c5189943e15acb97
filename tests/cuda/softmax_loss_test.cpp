// CUDA softmax, log-softmax and the losses built on them against the CPU
// backend: every layout (rows short and long, inner dims narrow and wide),
// rows of -inf, backward; nll_loss and cross_entropy with class weights,
// ignore_index, label smoothing, probability targets and every reduction;
// out-of-range targets as a clear error; float16/bfloat16 against float32.
#include <cmath>
#include <limits>

#include "tests/cuda/cuda_test_util.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

TEST(CudaSoftmax, ForwardAndBackwardMatchCpu) {
  EMBER_REQUIRE_CUDA();
  manual_seed(1);
  struct Case {
    Shape shape;
    int64_t dim;
  };
  std::vector<Case> cases = {{{1, 1}, 1},       {{8, 10}, 1},      {{5, 1000}, 1},   {{3, 5000}, -1},
                             {{2, 70000}, 1},   {{4, 10, 9}, 1},   {{2, 300, 65}, 1}, {{1000, 3}, 0},
                             {{2, 3, 7, 7}, 1}, {{9}, 0}};
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (const Case& c : cases) {
      for (bool log : {false, true}) {
        compare_with_cpu({mul(randn(c.shape, TensorOptions(dtype)), 3.0).requires_grad_(true)},
                         [&](const std::vector<Tensor>& v) { return log ? log_softmax(v[0], c.dim) : softmax(v[0], c.dim); },
                         kAccumulateTol, cat_str(log ? "log_softmax " : "softmax ", c.shape, " dim ", c.dim, " ", dtype_name(dtype)));
      }
    }
  }
  // Non-contiguous input.
  compare_with_cpu({rnd({20, 30})}, [](const std::vector<Tensor>& v) { return softmax(v[0].t(), 1); }, kAccumulateTol,
                   "softmax of a transpose");
}

TEST(CudaSoftmax, InfinitiesAndLargeValues) {
  EMBER_REQUIRE_CUDA();
  const float inf = std::numeric_limits<float>::infinity();
  Tensor x = from_vector<float>({-inf, 0.0f, 1.0f, -inf, -inf, -inf, 1000.0f, -1000.0f, 999.0f}, {3, 3});
  for (bool log : {false, true}) {
    compare_with_cpu({x}, [log](const std::vector<Tensor>& v) { return log ? log_softmax(v[0], 1) : softmax(v[0], 1); },
                     kAccumulateTol, log ? "log_softmax with -inf" : "softmax with -inf");
  }
}

TEST(CudaLoss, NllAndCrossEntropyMatchCpu) {
  EMBER_REQUIRE_CUDA();
  manual_seed(2);
  const int64_t N = 37, C = 11;
  Tensor logits = rnd({N, C});
  Tensor target = floor(uniform({N}, 0, C)).to(DType::Int64);
  target = where(lt(rand({N}), 0.2), full({N}, -100, TensorOptions(DType::Int64)), target);  // some ignored
  Tensor weight = uniform({C}, 0.5, 2.0);
  for (Reduction red : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    for (bool weighted : {false, true}) {
      for (double smoothing : {0.0, 0.1}) {
        compare_with_cpu({logits, target, weight},
                         [&](const std::vector<Tensor>& v) {
                           return cross_entropy(v[0], v[1], weighted ? v[2] : Tensor(), -100, red, smoothing);
                         },
                         kAccumulateTol,
                         cat_str("cross_entropy reduction ", static_cast<int>(red), weighted ? " weighted" : "",
                                 " smoothing ", smoothing));
      }
      compare_with_cpu({logits, target, weight},
                       [&](const std::vector<Tensor>& v) {
                         return nll_loss(log_softmax(v[0], 1), v[1], weighted ? v[2] : Tensor(), -100, red);
                       },
                       kAccumulateTol, "nll_loss");
    }
  }
  // Spatial targets [N, d1, d2] and probability targets.
  Tensor logits4 = rnd({2, 5, 3, 4});
  Tensor target3 = floor(uniform({2, 3, 4}, 0, 5)).to(DType::Int64);
  compare_with_cpu({logits4, target3}, [](const std::vector<Tensor>& v) { return cross_entropy(v[0], v[1]); },
                   kAccumulateTol, "cross_entropy spatial");
  Tensor probs = softmax(randn({N, C}), 1);
  compare_with_cpu({logits, probs},
                   [](const std::vector<Tensor>& v) {
                     return cross_entropy(v[0], v[1], Tensor(), -100, Reduction::Mean, 0.2);
                   },
                   kAccumulateTol, "cross_entropy probabilities");
}

TEST(CudaLoss, OutOfRangeTargetIsAnError) {
  EMBER_REQUIRE_CUDA();
  Tensor logits = randn({4, 3}, TensorOptions(kCuda));
  Tensor target = from_vector<int64_t>({0, 2, 3, 1}, {4}, kCuda);
  expect_error([&] { cross_entropy(logits, target); }, {"cross_entropy", "target 3", "sample 2", "3 classes"});
  Tensor negative = from_vector<int64_t>({0, -5, 1, 1}, {4}, kCuda);
  expect_error([&] { nll_loss(log_softmax(logits, 1), negative); }, {"nll_loss", "target -5", "sample 1"});
  // The stream is still usable afterwards.
  Tensor ok = from_vector<int64_t>({0, 2, 1, 1}, {4}, kCuda);
  EXPECT_TRUE(std::isfinite(cross_entropy(logits, ok).item<float>()));
}

TEST(CudaSoftmax, HalfAndBFloat16AgainstFloat32) {
  EMBER_REQUIRE_CUDA();
  manual_seed(3);
  for (DType dtype : {DType::Float16, DType::BFloat16}) {
    const double tol = dtype == DType::Float16 ? 2e-3 : 1.6e-2;
    for (const Shape& shape : std::vector<Shape>{{8, 10}, {3, 3000}, {2, 50, 9}}) {
      Tensor x16 = randn(shape, TensorOptions(dtype, kCuda)).requires_grad_(true);
      Tensor x32 = x16.detach().to(DType::Float32).requires_grad_(true);
      Tensor y16 = log_softmax(x16, 1), y32 = log_softmax(x32, 1);
      EXPECT_LE(relative_error(y16.to(DType::Float32).cpu(), y32.cpu()), tol) << dtype_name(dtype) << " " << shape_str(shape);
      Tensor up = randn(shape, TensorOptions(kCuda));
      sum(mul(y16, up.to(dtype))).backward();
      sum(mul(y32, up.to(dtype).to(DType::Float32))).backward();
      EXPECT_LE(relative_error(x16.grad().to(DType::Float32).cpu(), x32.grad().cpu()), 4 * tol) << dtype_name(dtype);
      Tensor s16 = softmax(x16.detach(), 1), s32 = softmax(x32.detach(), 1);
      EXPECT_LE(relative_error(s16.to(DType::Float32).cpu(), s32.cpu()), tol) << dtype_name(dtype);
    }
    // Cross entropy in 16 bits.
    Tensor logits = randn({16, 10}, TensorOptions(dtype, kCuda));
    Tensor target = floor(uniform({16}, 0, 10, TensorOptions(kCuda))).to(DType::Int64);
    const double l16 = cross_entropy(logits, target).item<double>();
    const double l32 = cross_entropy(logits.to(DType::Float32), target).item<double>();
    EXPECT_NEAR(l16, l32, 10 * tol * std::abs(l32)) << dtype_name(dtype);
  }
}

}  // namespace
}  // namespace ember
