// matmul (every torch.matmul case) and linear against PyTorch; gradients by
// finite differences; shape errors.
#include <gtest/gtest.h>

#include "tests/support/oracle.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

TEST(Linalg, MatmulCases) {
  check_op({in::randn({5}), in::randn({5})}, "a @ b", [](const Inputs& x) { return matmul(x[0], x[1]); }, kAccumulating);
  check_op({in::randn({4, 5}), in::randn({5, 3})}, "a @ b", [](const Inputs& x) { return matmul(x[0], x[1]); },
           kAccumulating);
  check_op({in::randn({5}), in::randn({5, 3})}, "a @ b", [](const Inputs& x) { return matmul(x[0], x[1]); }, kAccumulating);
  check_op({in::randn({4, 5}), in::randn({5})}, "a @ b", [](const Inputs& x) { return matmul(x[0], x[1]); }, kAccumulating);
  check_op({in::randn({2, 4, 5}), in::randn({2, 5, 3})}, "a @ b", [](const Inputs& x) { return matmul(x[0], x[1]); },
           kAccumulating);
  check_op({in::randn({3, 1, 4, 5}), in::randn({2, 5, 6})}, "a @ b",
           [](const Inputs& x) { return matmul(x[0], x[1]); }, kAccumulating);
  check_op({in::randn({2, 3, 4, 5}), in::randn({5, 6})}, "a @ b", [](const Inputs& x) { return matmul(x[0], x[1]); },
           kAccumulating);
  check_op({in::randn({1, 1}), in::randn({1, 1})}, "a @ b", [](const Inputs& x) { return matmul(x[0], x[1]); });
}

TEST(Linalg, TransposedOperandsNeedNoCopy) {
  check_op({in::randn({5, 4}), in::randn({3, 5})}, "a.t() @ b.t()",
           [](const Inputs& x) { return matmul(x[0].t(), x[1].t()); }, kAccumulating);
  check_op({in::randn({2, 5, 4}), in::randn({2, 5, 3})}, "a.transpose(1, 2) @ b",
           [](const Inputs& x) { return matmul(x[0].transpose(1, 2), x[1]); }, kAccumulating);
  check_op({in::randn({6, 8}), in::randn({3, 4})}, "a[::2, ::2] @ b.t()",
           [](const Inputs& x) { return matmul(x[0].slice(0, 0, 6, 2).slice(1, 0, 8, 2), x[1].t()); }, kAccumulating);
}

TEST(Linalg, Linear) {
  check_op({in::randn({8, 16}), in::randn({10, 16}), in::randn({10})}, "F.linear(a, b, c)",
           [](const Inputs& x) { return linear(x[0], x[1], x[2]); }, kAccumulating);
  check_op({in::randn({2, 3, 16}), in::randn({10, 16})}, "F.linear(a, b)",
           [](const Inputs& x) { return linear(x[0], x[1]); }, kAccumulating);
  check_op({in::randn({1, 512}), in::randn({1000, 512}), in::randn({1000})}, "F.linear(a, b, c)",
           [](const Inputs& x) { return linear(x[0], x[1], x[2]); }, kAccumulating);
}

// A one-row product (a classifier at batch 1) is cut over the threads by
// columns: a linear layer, a row times a transposed matrix, and a batch of
// one, with column counts that leave a partial last chunk.
TEST(Linalg, OneRowCutByColumns) {
  const int threads = num_threads();
  set_num_threads(2);
  check_op({in::randn({1, 640}), in::randn({1000, 640}), in::randn({1000})}, "F.linear(a, b, c)",
           [](const Inputs& x) { return linear(x[0], x[1], x[2]); }, kAccumulating);
  check_op({in::randn({1, 1024}), in::randn({300, 1024})}, "a @ b.t()",
           [](const Inputs& x) { return matmul(x[0], x[1].t()); }, kAccumulating);
  check_op({in::randn({1, 1, 1400}), in::randn({1, 1400, 201})}, "a @ b",
           [](const Inputs& x) { return matmul(x[0], x[1]); }, kAccumulating);
  set_num_threads(threads);
}

TEST(Linalg, FiniteDifferenceGradients) {
  gradcheck([](const Inputs& x) { return matmul(x[0], x[1]); }, {leaf64({3, 4}), leaf64({4, 2})});
  gradcheck([](const Inputs& x) { return matmul(x[0], x[1]); }, {leaf64({2, 1, 3, 4}), leaf64({3, 4, 2})});
  gradcheck([](const Inputs& x) { return matmul(x[0], x[1]); }, {leaf64({4}), leaf64({4})});
  gradcheck([](const Inputs& x) { return linear(x[0], x[1], x[2]); }, {leaf64({3, 5}), leaf64({2, 5}), leaf64({2})});
}

TEST(Linalg, Errors) {
  expect_error([] { matmul(zeros({2, 3}), zeros({4, 5})); }, {"matmul", "[2, 3]", "[4, 5]"});
  expect_error([] { matmul(zeros({2, 2, 3}), zeros({3, 3, 1})); }, {"matmul", "broadcast"});
  expect_error([] { matmul(zeros({3}, DType::Int64), zeros({3}, DType::Int64)); }, {"matmul", "floating"});
  expect_error([] { linear(zeros({2, 3}), zeros({4, 5})); }, {"linear", "[2, 3]", "[4, 5]"});
  expect_error([] { linear(zeros({2, 5}), zeros({4, 5}), zeros({3})); }, {"linear", "bias", "[3]"});
}

}  // namespace
}  // namespace ember
