// Pooling and batch normalisation against PyTorch (forward, backward,
// running statistics), finite differences, errors.
#include <gtest/gtest.h>

#include "tests/support/oracle.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

TEST(Pooling, MaxPool) {
  check_op({in::randn({2, 3, 9, 9})}, "F.max_pool2d(a, 3, 2, 1)",
           [](const Inputs& x) { return max_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}); });
  check_op({in::randn({1, 2, 10, 7})}, "F.max_pool2d(a, 2)", [](const Inputs& x) { return max_pool2d(x[0], {2, 2}); });
  check_op({in::randn({2, 2, 9, 10})}, "F.max_pool2d(a, 3, 2, ceil_mode=True)",
           [](const Inputs& x) { return max_pool2d(x[0], {3, 3}, {2, 2}, {0, 0}, {1, 1}, true); });
  check_op({in::randn({1, 2, 11, 11})}, "F.max_pool2d(a, 3, 1, 1, dilation=2)",
           [](const Inputs& x) { return max_pool2d(x[0], {3, 3}, {1, 1}, {1, 1}, {2, 2}); });
  check_op({in::randn({2, 3, 8, 8})}, "F.max_pool2d(a, 2, return_indices=True)", [](const Inputs& x) {
    auto [v, i] = max_pool2d_with_indices(x[0], {2, 2});
    return std::vector<Tensor>{v, i};
  });
}

// Wide rows take the vectorised interior loop: values and indices, ties
// (small integers: the first maximum in the window wins) and NaNs (a NaN
// wins), as PyTorch.
TEST(Pooling, MaxPoolInteriorTiesAndNaN) {
  auto with_indices = [](Pair k, Pair st, Pair pad, Pair dil) {
    return [=](const Inputs& x) {
      auto [v, i] = max_pool2d_with_indices(x[0], k, st, pad, dil);
      return std::vector<Tensor>{v, i};
    };
  };
  check_op({in::randn({1, 2, 20, 41})}, "F.max_pool2d(a, 3, 2, 1, return_indices=True)",
           with_indices({3, 3}, {2, 2}, {1, 1}, {1, 1}));
  check_op({in::no_grad(in::integers({1, 2, 12, 33}, 0, 3, DType::Float32))},
           "F.max_pool2d(a, 3, 1, 1, return_indices=True)", with_indices({3, 3}, {1, 1}, {1, 1}, {1, 1}));
  check_op({in::no_grad(in::integers({1, 1, 13, 35}, 0, 2, DType::Float32))},
           "F.max_pool2d(a, 2, 2, 0, dilation=2, return_indices=True)", with_indices({2, 2}, {2, 2}, {0, 0}, {2, 2}));
  std::vector<float> v(1 * 1 * 9 * 30);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 37) % 11);
  for (size_t i : {40, 41, 100, 133, 200}) v[i] = NAN;
  check_op({in::given(from_vector(v, {1, 1, 9, 30}))}, "F.max_pool2d(a, 3, 2, 1, return_indices=True)",
           with_indices({3, 3}, {2, 2}, {1, 1}, {1, 1}));
}

// Without a backward to record (inputs that need no gradient) the CPU
// computes a float32 max pooling's values alone (max_pool_values_plane):
// stride 1, 2 (the row split into even and odd columns, vector steps and
// a scalar tail) and 3 (column by column), different strides and kernels
// per direction, padding, ceil mode's overhanging last window, NaNs (which
// win) and -inf; dilated and float64 poolings compute their indices and
// drop them. The values equal the indices path's bit for bit.
TEST(Pooling, MaxPoolValuesWithoutIndices) {
  auto pool = [](Pair k, Pair st, Pair pad, Pair dil = {1, 1}, bool ceil = false) {
    return [=](const Inputs& x) { return max_pool2d(x[0], k, st, pad, dil, ceil); };
  };
  check_op({in::no_grad(in::randn({1, 2, 20, 41}))}, "F.max_pool2d(a, 3, 2, 1)", pool({3, 3}, {2, 2}, {1, 1}));
  check_op({in::no_grad(in::randn({2, 3, 12, 33}))}, "F.max_pool2d(a, 3, 1, 1)", pool({3, 3}, {1, 1}, {1, 1}));
  check_op({in::no_grad(in::randn({1, 3, 10, 7}))}, "F.max_pool2d(a, 2)", pool({2, 2}, {2, 2}, {0, 0}));
  check_op({in::no_grad(in::randn({2, 2, 9, 10}))}, "F.max_pool2d(a, 3, 2, ceil_mode=True)",
           pool({3, 3}, {2, 2}, {0, 0}, {1, 1}, true));
  check_op({in::no_grad(in::randn({1, 2, 17, 23}))}, "F.max_pool2d(a, 5, 3, 2)", pool({5, 5}, {3, 3}, {2, 2}));
  check_op({in::no_grad(in::randn({1, 2, 11, 37}))}, "F.max_pool2d(a, (2, 4), (1, 2), (1, 2))",
           pool({2, 4}, {1, 2}, {1, 2}));
  check_op({in::no_grad(in::randn({1, 2, 11, 11}))}, "F.max_pool2d(a, 3, 1, 1, dilation=2)",
           pool({3, 3}, {1, 1}, {1, 1}, {2, 2}));
  check_op({in::no_grad(in::randn({1, 2, 9, 9}, DType::Float64))}, "F.max_pool2d(a, 3, 2, 1)",
           pool({3, 3}, {2, 2}, {1, 1}));
  std::vector<float> v(2 * 9 * 40);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 37) % 11) - 5.0f;
  for (size_t i : {40, 41, 100, 133, 200, 500}) v[i] = NAN;
  for (size_t i : {3, 4, 5, 43, 44, 45, 83, 84, 85, 600}) v[i] = -INFINITY;
  check_op({in::given(from_vector(v, {1, 2, 9, 40}))}, "F.max_pool2d(a, 3, 2, 1)", pool({3, 3}, {2, 2}, {1, 1}));
  check_op({in::given(from_vector(v, {1, 2, 9, 40}))}, "F.max_pool2d(a, 3, 1, 1)", pool({3, 3}, {1, 1}, {1, 1}));
  manual_seed(2);
  Tensor x = randn({2, 4, 57, 61});
  Tensor values = max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  Tensor with_indices = max_pool2d_with_indices(x, {3, 3}, {2, 2}, {1, 1}).first;
  EXPECT_EQ(max(abs(values - with_indices)).item<double>(), 0.0);
}

// DenseNet's transition pooling (2x2, stride 2, unpadded) on float32 has a
// path of its own: eight outputs per vector step and a scalar tail, odd
// sizes dropping the last row and column. Each window summed in window
// order in float, then divided by 4: PyTorch's numbers exactly. By hand:
// (1e8 + 1) - 1e8 + 1 loses the first 1 in float, as PyTorch's sum does.
TEST(Pooling, AvgPool2x2Stride2) {
  const Tolerance exact{0.0, 1e-5};
  check_op({in::randn({2, 3, 8, 40})}, "F.avg_pool2d(a, 2)", [](const Inputs& x) { return avg_pool2d(x[0], {2, 2}); },
           exact);
  check_op({in::randn({1, 4, 9, 35})}, "F.avg_pool2d(a, 2)", [](const Inputs& x) { return avg_pool2d(x[0], {2, 2}); },
           exact);
  check_op({in::randn({1, 2, 6, 6})}, "F.avg_pool2d(a, 2, divisor_override=4)",
           [](const Inputs& x) { return avg_pool2d(x[0], {2, 2}, {2, 2}, {0, 0}, false, true, 4); }, exact);
  std::vector<float> v(2 * 18, 0.0f);
  for (int64_t j : {0, 16}) {  // one window in the vector steps, one in the tail
    v[j] = 1e8f;
    v[j + 1] = 1.0f;
    v[18 + j] = -1e8f;
    v[18 + j + 1] = 1.0f;
  }
  Tensor y = avg_pool2d(from_vector(v, {1, 1, 2, 18}), {2, 2});
  EXPECT_EQ(y.to_vector<float>(), std::vector<float>({0.25f, 0, 0, 0, 0, 0, 0, 0, 0.25f}));
}

TEST(Pooling, AvgPool) {
  check_op({in::randn({2, 3, 9, 9})}, "F.avg_pool2d(a, 3, 2, 1)",
           [](const Inputs& x) { return avg_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}); });
  check_op({in::randn({2, 3, 9, 9})}, "F.avg_pool2d(a, 3, 2, 1, count_include_pad=False)",
           [](const Inputs& x) { return avg_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}, false, false); });
  check_op({in::randn({1, 2, 10, 9})}, "F.avg_pool2d(a, 3, 2, 1, ceil_mode=True)",
           [](const Inputs& x) { return avg_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}, true); });
  check_op({in::randn({1, 2, 8, 8})}, "F.avg_pool2d(a, 2, 2, divisor_override=3)",
           [](const Inputs& x) { return avg_pool2d(x[0], {2, 2}, {2, 2}, {0, 0}, false, true, 3); });
  check_op({in::randn({2, 4, 6, 6})}, "F.avg_pool2d(a, 2)", [](const Inputs& x) { return avg_pool2d(x[0], {2, 2}); });
}

TEST(Pooling, AdaptiveAvgPool) {
  check_op({in::randn({2, 3, 7, 7})}, "F.adaptive_avg_pool2d(a, 1)",
           [](const Inputs& x) { return adaptive_avg_pool2d(x[0], {1, 1}); });
  check_op({in::randn({2, 3, 10, 9})}, "F.adaptive_avg_pool2d(a, (3, 4))",
           [](const Inputs& x) { return adaptive_avg_pool2d(x[0], {3, 4}); });
  check_op({in::randn({1, 2, 4, 4})}, "F.adaptive_avg_pool2d(a, 7)",
           [](const Inputs& x) { return adaptive_avg_pool2d(x[0], {7, 7}); });
}

TEST(Pooling, FiniteDifferenceGradients) {
  gradcheck([](const Inputs& x) { return max_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}); }, {leaf64({1, 2, 6, 5})});
  gradcheck([](const Inputs& x) { return avg_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}, true, false); }, {leaf64({1, 2, 6, 5})});
  gradcheck([](const Inputs& x) { return adaptive_avg_pool2d(x[0], {3, 2}); }, {leaf64({2, 1, 7, 5})});
}

TEST(BatchNorm, TrainingMatchesPyTorchIncludingRunningStats) {
  // Outputs: y, then the running stats after the update.
  check_op({in::randn({4, 3, 5, 5}), in::randn({3}), in::randn({3}), in::no_grad(in::randn({3})),
            in::no_grad(in::positive({3}))},
           "(F.batch_norm(a, d, e, b, c, training=True, momentum=0.2, eps=1e-3), d, e)",
           [](const Inputs& x) {
             Tensor rm = x[3].detach().clone(), rv = x[4].detach().clone();
             Tensor y = batch_norm(x[0], rm, rv, x[1], x[2], true, 0.2, 1e-3);
             return std::vector<Tensor>{y, rm, rv};
           },
           kAccumulating);
  check_op({in::randn({6, 5})}, "F.batch_norm(a, None, None, training=True)",
           [](const Inputs& x) { return batch_norm(x[0], Tensor(), Tensor(), Tensor(), Tensor(), true); }, kAccumulating);
  check_op({in::randn({1, 4, 3, 3}), in::randn({4}), in::randn({4})},
           "F.batch_norm(a, torch.zeros(4), torch.ones(4), b, c, training=True)",
           [](const Inputs& x) { return batch_norm(x[0], zeros({4}), ones({4}), x[1], x[2], true); }, kAccumulating);
}

TEST(BatchNorm, EvalUsesRunningStats) {
  check_op({in::randn({3, 4, 2, 3}), in::randn({4}), in::randn({4}), in::no_grad(in::randn({4})), in::no_grad(in::positive({4}))},
           "F.batch_norm(a, d, e, b, c, training=False)",
           [](const Inputs& x) { return batch_norm(x[0], x[3], x[4], x[1], x[2], false); }, kAccumulating);
}

TEST(BatchNorm, FiniteDifferenceGradients) {
  gradcheck([](const Inputs& x) { return batch_norm(x[0], Tensor(), Tensor(), x[1], x[2], true); },
            {leaf64({3, 2, 2, 3}), leaf64({2}), leaf64({2})});
  gradcheck([](const Inputs& x) {
    return batch_norm(x[0], from_vector<double>({0.1, -0.2}, {2}), from_vector<double>({1.5, 0.5}, {2}), x[1], x[2], false);
  }, {leaf64({2, 2, 3}), leaf64({2}), leaf64({2})});
}

TEST(PoolingAndNorm, Errors) {
  expect_error([] { max_pool2d(zeros({1, 1, 4, 4}), {2, 2}, {2, 2}, {2, 2}); }, {"max_pool2d", "half the kernel"});
  expect_error([] { max_pool2d(zeros({2, 8}), {2, 2}); }, {"max_pool2d", "4-D", "[2, 8]"});
  expect_error([] { avg_pool2d(zeros({1, 1, 2, 2}), {3, 3}); }, {"avg_pool2d", "too small"});
  expect_error([] { batch_norm(zeros({2, 3, 4}), zeros({4}), ones({4})); }, {"batch_norm", "[4]", "3 channels"});
  expect_error([] { batch_norm(zeros({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true); },
               {"batch_norm", "more than 1 value per channel"});
}

}  // namespace
}  // namespace ember
