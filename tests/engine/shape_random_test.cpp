// cat/stack/split/chunk/pad/flatten against PyTorch; seeded random numbers
// (reproducible, right moments) and dropout.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/oracle.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

TEST(ShapeOps, CatStackSplitChunk) {
  check_op({in::randn({2, 3}), in::randn({4, 3})}, "torch.cat([a, b])", [](const Inputs& x) { return cat({x[0], x[1]}); });
  check_op({in::randn({2, 3, 4}), in::randn({2, 1, 4}), in::randn({2, 2, 4})}, "torch.cat([a, b, c], 1)",
           [](const Inputs& x) { return cat({x[0], x[1], x[2]}, 1); });
  check_op({in::randn({3, 4}), in::randn({3, 4})}, "torch.stack([a, b], -1)",
           [](const Inputs& x) { return stack({x[0], x[1]}, -1); });
  check_op({in::randn({7, 3})}, "torch.split(a, 3)", [](const Inputs& x) { return split(x[0], 3); });
  check_op({in::randn({3, 7})}, "torch.split(a, [2, 4, 1], 1)", [](const Inputs& x) { return split(x[0], {2, 4, 1}, 1); });
  check_op({in::randn({5, 2})}, "torch.chunk(a, 3)", [](const Inputs& x) { return chunk(x[0], 3); });
  check_op({in::randn({2, 3, 4})}, "torch.flatten(a, 1)", [](const Inputs& x) { return flatten(x[0], 1); });
  check_op({in::randn({2, 3}), in::integers({2, 3}, 0, 5)}, "torch.cat([a, b], 0)",
           [](const Inputs& x) { return cat({x[0], x[1]}); });  // int64 promotes to float32
}

TEST(ShapeOps, ConstantPad) {
  check_op({in::randn({2, 3, 4, 5})}, "F.pad(a, (1, 2))", [](const Inputs& x) { return pad(x[0], {1, 2}); });
  check_op({in::randn({2, 3, 4, 5})}, "F.pad(a, (1, 1, 2, 0), value=-1.5)",
           [](const Inputs& x) { return pad(x[0], {1, 1, 2, 0}, -1.5); });
  check_op({in::randn({2, 3, 4, 5})}, "F.pad(a, (-1, 2, 0, -2, 1, 1))",
           [](const Inputs& x) { return pad(x[0], {-1, 2, 0, -2, 1, 1}); });
}

TEST(ShapeOps, FiniteDifferenceGradients) {
  gradcheck([](const Inputs& x) { return cat({x[0] * 2.0, x[1]}, 1); }, {leaf64({2, 2}), leaf64({2, 3})});
  gradcheck([](const Inputs& x) { return stack({x[0], x[1]}, 0) * split(x[0], 1, 0)[0]; }, {leaf64({2, 3}), leaf64({2, 3})});
  gradcheck([](const Inputs& x) { return pad(x[0], {2, -1, 1, 1}, 3.0); }, {leaf64({2, 3, 4})});
}

TEST(ShapeOps, Errors) {
  expect_error([] { cat({zeros({2, 3}), zeros({2, 4})}); }, {"cat", "[2, 4]", "[2, 3]"});
  expect_error([] { stack({zeros({2}), zeros({3})}); }, {"stack", "[3]", "[2]"});
  expect_error([] { split(zeros({5}), std::vector<int64_t>{2, 2}); }, {"split", "add up to 4", "size 5"});
  expect_error([] { pad(zeros({2, 2}), {1}); }, {"pad", "pairs"});
  expect_error([] { pad(zeros({2, 2}), {-3, 0}); }, {"pad", "negative"});
}

TEST(Random, SeededDrawsAreReproducibleAndWellDistributed) {
  manual_seed(123);
  Tensor a = randn({20000});
  Tensor u = rand({20000});
  manual_seed(123);
  EXPECT_EQ(randn({20000}).to_vector<float>(), a.to_vector<float>());
  EXPECT_EQ(rand({20000}).to_vector<float>(), u.to_vector<float>());
  EXPECT_NE(randn({20000}).to_vector<float>(), a.to_vector<float>());  // the stream moves on
  // Moments: mean within 4 standard errors of 0, variance near 1; uniform in [0, 1).
  double m = mean(a).item(), v = var(a).item();
  EXPECT_LT(std::abs(m), 4.0 / std::sqrt(20000.0));
  EXPECT_NEAR(v, 1.0, 0.05);
  EXPECT_NEAR(mean(u).item(), 0.5, 0.01);
  EXPECT_GE(min(u).item(), 0.0);
  EXPECT_LT(max(u).item(), 1.0);
  Generator g(7);
  Tensor n = normal({10000}, 3.0, 2.0, DType::Float64, &g);
  EXPECT_NEAR(mean(n).item(), 3.0, 0.1);
  EXPECT_NEAR(std_dev(n).item(), 2.0, 0.1);
  Tensor w = uniform({10000}, -2.0, 4.0, {}, &g);
  EXPECT_GE(min(w).item(), -2.0);
  EXPECT_LT(max(w).item(), 4.0);
}

TEST(Random, DropoutZeroesAndRescales) {
  manual_seed(5);
  Tensor x = ones({100000}).requires_grad_();
  Tensor y = dropout(x, 0.3, true);
  std::vector<float> v = y.to_vector<float>();
  int64_t kept = 0;
  for (float f : v) {
    EXPECT_TRUE(f == 0.0f || std::abs(f - 1.0f / 0.7f) < 1e-6f);
    kept += f != 0.0f;
  }
  EXPECT_NEAR(static_cast<double>(kept) / 100000.0, 0.7, 0.01);
  sum(y).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), v);  // the gradient is the same mask
  EXPECT_TRUE(dropout(x, 0.3, false).is_same(x));
  EXPECT_EQ(sum(dropout(x, 1.0, true)).item(), 0.0);
  expect_error([&] { dropout(x, 1.5, true); }, {"dropout", "1.5"});
}

}  // namespace
}  // namespace ember
