// Reductions against PyTorch: any dims, keepdim, non-contiguous inputs,
// ties, integer sums; finite-difference gradients; errors.
#include <gtest/gtest.h>

#include "tests/support/oracle.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

TEST(Reduce, SumAndMeanOverAnyDims) {
  check_op({in::randn({3, 4, 5})}, "a.sum()", [](const Inputs& x) { return sum(x[0]); }, kAccumulating);
  check_op({in::randn({3, 4, 5})}, "a.sum(1)", [](const Inputs& x) { return sum(x[0], {1}); }, kAccumulating);
  check_op({in::randn({3, 4, 5})}, "a.sum((0, 2), keepdim=True)", [](const Inputs& x) { return sum(x[0], {0, 2}, true); },
           kAccumulating);
  check_op({in::randn({3, 4, 5})}, "a.sum(-1)", [](const Inputs& x) { return sum(x[0], {-1}); }, kAccumulating);
  check_op({in::randn({2, 3, 4, 5})}, "a.mean((0, 2, 3))", [](const Inputs& x) { return mean(x[0], {0, 2, 3}); },
           kAccumulating);
  check_op({in::randn({2, 3, 4, 5})}, "a.mean((1, 2), keepdim=True)",
           [](const Inputs& x) { return mean(x[0], {1, 2}, true); }, kAccumulating);
  check_op({in::randn({1, 7})}, "a.mean()", [](const Inputs& x) { return mean(x[0]); }, kAccumulating);
  check_op({in::randn({6, 5})}, "a.t().sum(0)", [](const Inputs& x) { return sum(x[0].t(), {0}); }, kAccumulating);
  check_op({in::randn({257, 33})}, "a.sum(0)", [](const Inputs& x) { return sum(x[0], {0}); }, kAccumulating);
}

TEST(Reduce, VarianceAndStd) {
  check_op({in::randn({4, 6})}, "a.var(1)", [](const Inputs& x) { return var(x[0], {1}); }, kAccumulating);
  check_op({in::randn({4, 6})}, "a.var((0, 1), unbiased=False)", [](const Inputs& x) { return var(x[0], {0, 1}, 0); },
           kAccumulating);
  check_op({in::randn({2, 3, 5})}, "a.std(2, keepdim=True)", [](const Inputs& x) { return std_dev(x[0], {2}, 1, true); },
           kAccumulating);
  check_op({in::randn({3, 5})}, "torch.linalg.vector_norm(a, dim=1)", [](const Inputs& x) { return norm(x[0], {1}); },
           kAccumulating);
}

TEST(Reduce, MaxMinAndArgmax) {
  check_op({in::randn({4, 7})}, "torch.max(a, 1)", [](const Inputs& x) {
    auto [v, i] = max(x[0], 1);
    return std::vector<Tensor>{v, i};
  });
  check_op({in::randn({4, 7, 3})}, "torch.min(a, 1, keepdim=True)", [](const Inputs& x) {
    auto [v, i] = min(x[0], 1, true);
    return std::vector<Tensor>{v, i};
  });
  check_op({in::randn({4, 7})}, "a.max()", [](const Inputs& x) { return max(x[0]); });
  check_op({in::randn({4, 7})}, "a.min()", [](const Inputs& x) { return min(x[0]); });
  check_op({in::randn({3, 4, 5})}, "torch.amax(a, (0, 2))", [](const Inputs& x) { return amax(x[0], {0, 2}); });
  check_op({in::randn({3, 4, 5})}, "torch.amin(a, 1, keepdim=True)", [](const Inputs& x) { return amin(x[0], {1}, true); });
  check_op({in::randn({5, 9})}, "(a.argmax(1), a.argmin(0), a.argmax())", [](const Inputs& x) {
    return std::vector<Tensor>{argmax(x[0], 1), argmin(x[0], 0), argmax(x[0])};
  });
}

TEST(Reduce, TiesAndIntegers) {
  Tensor tied = from_vector<float>({1, 3, 3, 2, 3, 0}, {2, 3});
  // amax splits the gradient among ties; max(dim) gives it to the first index.
  check_op({in::given(tied, true)}, "torch.amax(a, 1)", [](const Inputs& x) { return amax(x[0], {1}); });
  check_op({in::given(tied, true)}, "a.max()", [](const Inputs& x) { return max(x[0]); });
  check_op({in::given(tied, true)}, "torch.max(a, 1)", [](const Inputs& x) {
    auto [v, i] = max(x[0], 1);
    return std::vector<Tensor>{v, i};
  });
  check_op({in::integers({3, 4}, -9, 9)}, "(a.sum(), a.sum(1))",
           [](const Inputs& x) { return std::vector<Tensor>{sum(x[0]), sum(x[0], {1})}; });
  check_op({in::booleans({3, 4})}, "a.sum(0)", [](const Inputs& x) { return sum(x[0], {0}); });
  check_op({in::integers({3, 4}, -9, 9, DType::Int32)}, "torch.max(a, 0)", [](const Inputs& x) {
    auto [v, i] = max(x[0], 0);
    return std::vector<Tensor>{v, i};
  });
}

TEST(Reduce, FiniteDifferenceGradients) {
  gradcheck([](const Inputs& x) { return sum(x[0], {0, 2}) + sum(mean(x[0], {1}, true)); }, {leaf64({2, 3, 4})});
  gradcheck([](const Inputs& x) { return var(x[0], {1}) + sum(std_dev(x[0], {0}, 0)) + norm(x[0]); },
            {leaf64({3, 5})});
  gradcheck([](const Inputs& x) { return amax(x[0], {1}) + sum(max(x[0], 0).first) + min(x[0]); },
            {leaf64({4, 6})});
}

TEST(Reduce, Errors) {
  expect_error([] { sum(zeros({2, 3}), {2}); }, {"sum", "dim 2", "2 dims"});
  expect_error([] { sum(zeros({2, 3}), {1, -1}); }, {"sum", "more than once"});
  expect_error([] { mean(zeros({2}, DType::Int64)); }, {"mean", "floating", "int64"});
  expect_error([] { max(zeros({0, 3}), 0); }, {"max", "size 0"});
  expect_error([] { amax(zeros({0})); }, {"amax"});
}

}  // namespace
}  // namespace ember
