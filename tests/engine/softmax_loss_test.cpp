// softmax, log_softmax and the losses against PyTorch: class weights,
// ignore_index, label smoothing, probability targets, spatial targets, every
// reduction; cosine similarity; finite differences; errors.
#include <gtest/gtest.h>

#include "tests/support/oracle.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

TEST(Softmax, AlongAnyDim) {
  check_op({in::randn({4, 10})}, "torch.softmax(a, 1)", [](const Inputs& x) { return softmax(x[0], 1); });
  check_op({in::randn({4, 10})}, "torch.log_softmax(a, -1)", [](const Inputs& x) { return log_softmax(x[0], -1); });
  check_op({in::randn({3, 5, 4})}, "torch.softmax(a, 1)", [](const Inputs& x) { return softmax(x[0], 1); });
  check_op({in::randn({3, 5, 4})}, "torch.log_softmax(a, 0)", [](const Inputs& x) { return log_softmax(x[0], 0); });
  check_op({in::uniform({2, 6}, -80, 80)}, "torch.log_softmax(a, 1)", [](const Inputs& x) { return log_softmax(x[0], 1); });
  check_op({in::randn({5, 3})}, "torch.softmax(a.t(), 1)", [](const Inputs& x) { return softmax(x[0].t(), 1); });
}

TEST(Losses, CrossEntropyWithClassIndices) {
  check_op({in::randn({8, 5}), in::integers({8}, 0, 5)}, "F.cross_entropy(a, b)",
           [](const Inputs& x) { return cross_entropy(x[0], x[1]); });
  check_op({in::randn({8, 5}), in::integers({8}, 0, 5), in::no_grad(in::positive({5}))}, "F.cross_entropy(a, b, weight=c)",
           [](const Inputs& x) { return cross_entropy(x[0], x[1], x[2]); });
  check_op({in::randn({8, 5}), in::integers({8}, 0, 5)}, "F.cross_entropy(a, b, reduction='sum')",
           [](const Inputs& x) { return cross_entropy(x[0], x[1], Tensor(), -100, Reduction::Sum); });
  check_op({in::randn({8, 5}), in::integers({8}, 0, 5)}, "F.cross_entropy(a, b, reduction='none')",
           [](const Inputs& x) { return cross_entropy(x[0], x[1], Tensor(), -100, Reduction::None); });
  check_op({in::randn({1, 1000}), in::integers({1}, 0, 1000)}, "F.cross_entropy(a, b)",
           [](const Inputs& x) { return cross_entropy(x[0], x[1]); });
}

TEST(Losses, IgnoreIndexAndLabelSmoothing) {
  Tensor target = from_vector<int64_t>({0, 2, -100, 1, 4, -100, 3, 2}, {8});
  check_op({in::randn({8, 5}), in::given(target)}, "F.cross_entropy(a, b, ignore_index=-100)",
           [](const Inputs& x) { return cross_entropy(x[0], x[1]); });
  check_op({in::randn({8, 5}), in::given(target)}, "F.cross_entropy(a, b, label_smoothing=0.1)",
           [](const Inputs& x) { return cross_entropy(x[0], x[1], Tensor(), -100, Reduction::Mean, 0.1); });
  check_op({in::randn({8, 5}), in::given(target), in::no_grad(in::positive({5}))},
           "F.cross_entropy(a, b, weight=c, label_smoothing=0.2)",
           [](const Inputs& x) { return cross_entropy(x[0], x[1], x[2], -100, Reduction::Mean, 0.2); });
  check_op({in::randn({8, 5}), in::given(target), in::no_grad(in::positive({5}))},
           "F.cross_entropy(a, b, weight=c, label_smoothing=0.2, reduction='none')",
           [](const Inputs& x) { return cross_entropy(x[0], x[1], x[2], -100, Reduction::None, 0.2); });
  check_op({in::randn({8, 5}), in::integers({8}, 0, 5)}, "F.cross_entropy(a, b, label_smoothing=0.3, reduction='sum')",
           [](const Inputs& x) { return cross_entropy(x[0], x[1], Tensor(), -100, Reduction::Sum, 0.3); });
  // 21 classes: two blocks of eight through the vector exp, then a tail of five.
  check_op({in::uniform({8, 21}, -20, 20), in::given(target), in::no_grad(in::positive({21}))},
           "F.cross_entropy(a, b, weight=c, label_smoothing=0.2)",
           [](const Inputs& x) { return cross_entropy(x[0], x[1], x[2], -100, Reduction::Mean, 0.2); });
}

TEST(Losses, ProbabilityAndSpatialTargets) {
  check_op({in::randn({6, 4}), in::no_grad(in::uniform({6, 4}, 0, 1))}, "F.cross_entropy(a, b)",
           [](const Inputs& x) { return cross_entropy(x[0], x[1]); });
  check_op({in::randn({6, 4}), in::no_grad(in::uniform({6, 4}, 0, 1)), in::no_grad(in::positive({4}))},
           "F.cross_entropy(a, b, weight=c, label_smoothing=0.1)",
           [](const Inputs& x) { return cross_entropy(x[0], x[1], x[2], -100, Reduction::Mean, 0.1); });
  check_op({in::randn({2, 3, 4, 5}), in::integers({2, 4, 5}, 0, 3)}, "F.cross_entropy(a, b)",
           [](const Inputs& x) { return cross_entropy(x[0], x[1]); });
  check_op({in::randn({2, 3, 4}), in::integers({2, 4}, 0, 3)}, "F.nll_loss(torch.log_softmax(a, 1), b, reduction='none')",
           [](const Inputs& x) { return nll_loss(log_softmax(x[0], 1), x[1], Tensor(), -100, Reduction::None); });
  check_op({in::randn({7}), in::given(scalar_tensor(3, DType::Int64))}, "F.cross_entropy(a, b)",
           [](const Inputs& x) { return cross_entropy(x[0], x[1]); });
  // The fused kernel over a spatial map: class weights, smoothing, ignored pixels, per-pixel losses.
  Tensor pixels = from_vector<int64_t>({0, 2, -100, 1, 2, 2, -100, 0, 1, 1, 0, 2}, {2, 2, 3});
  check_op({in::randn({2, 3, 2, 3}), in::given(pixels), in::no_grad(in::positive({3}))},
           "F.cross_entropy(a, b, weight=c, label_smoothing=0.15, reduction='none')",
           [](const Inputs& x) { return cross_entropy(x[0], x[1], x[2], -100, Reduction::None, 0.15); });
  check_op({in::randn({2, 3, 2, 3}), in::given(pixels), in::no_grad(in::positive({3}))},
           "F.cross_entropy(a, b, weight=c, label_smoothing=0.15)",
           [](const Inputs& x) { return cross_entropy(x[0], x[1], x[2], -100, Reduction::Mean, 0.15); });
}

TEST(Losses, NllBceMseL1) {
  check_op({in::randn({6, 4}), in::integers({6}, 0, 4)}, "F.nll_loss(a, b)", [](const Inputs& x) { return nll_loss(x[0], x[1]); });
  check_op({in::randn({5, 3}), in::no_grad(in::uniform({5, 3}, 0, 1))}, "F.binary_cross_entropy_with_logits(a, b)",
           [](const Inputs& x) { return binary_cross_entropy_with_logits(x[0], x[1]); });
  check_op({in::uniform({5, 3}, -30, 30), in::no_grad(in::uniform({5, 3}, 0, 1)), in::no_grad(in::positive({3})),
            in::no_grad(in::positive({3}))},
           "F.binary_cross_entropy_with_logits(a, b, weight=c, pos_weight=d, reduction='sum')",
           [](const Inputs& x) { return binary_cross_entropy_with_logits(x[0], x[1], x[2], x[3], Reduction::Sum); });
  check_op({in::randn({4, 3}), in::randn({4, 3})}, "F.mse_loss(a, b)", [](const Inputs& x) { return mse_loss(x[0], x[1]); });
  check_op({in::randn({4, 3}), in::randn({4, 3})}, "F.l1_loss(a, b, reduction='none')",
           [](const Inputs& x) { return l1_loss(x[0], x[1], Reduction::None); });
}

TEST(Losses, CosineSimilarity) {
  check_op({in::randn({5, 8}), in::randn({5, 8})}, "F.cosine_similarity(a, b)",
           [](const Inputs& x) { return cosine_similarity(x[0], x[1]); });
  check_op({in::randn({4, 1, 6}), in::randn({1, 3, 6})}, "F.cosine_similarity(a, b, dim=-1)",
           [](const Inputs& x) { return cosine_similarity(x[0], x[1], -1); });
}

TEST(Losses, FiniteDifferenceGradients) {
  Tensor target = from_vector<int64_t>({0, 2, 1, 2}, {4});
  Tensor weight = from_vector<double>({0.5, 2.0, 1.0}, {3});
  gradcheck([&](const Inputs& x) { return cross_entropy(x[0], target, weight, -100, Reduction::Mean, 0.1); },
            {leaf64({4, 3})});
  gradcheck([](const Inputs& x) { return softmax(x[0], 0) * log_softmax(x[0], 1); }, {leaf64({3, 4})});
  gradcheck([](const Inputs& x) { return binary_cross_entropy_with_logits(x[0], x[1]); },
            {leaf64({5}), leaf64({5}, 0, 1).detach()});
  gradcheck([](const Inputs& x) { return cosine_similarity(x[0], x[1]) + mse_loss(x[0], x[1]); },
            {leaf64({3, 4}), leaf64({3, 4})});
}

TEST(Losses, Errors) {
  expect_error([] { cross_entropy(zeros({4, 3}), from_vector<int64_t>({0, 1, 3, 2}, {4})); },
               {"cross_entropy", "target 3", "sample 2", "3 classes"});
  expect_error([] { cross_entropy(zeros({4, 3}), from_vector<int64_t>({0, 1}, {2})); }, {"cross_entropy", "[2]", "[4, 3]"});
  expect_error([] { cross_entropy(zeros({4, 3}), zeros({4}, DType::Int64), zeros({2})); }, {"cross_entropy", "weight", "[2]"});
  expect_error([] { cross_entropy(zeros({4, 3}), zeros({4}, DType::Int64), Tensor(), -100, Reduction::Mean, 1.5); },
               {"cross_entropy", "label_smoothing"});
  expect_error([] { binary_cross_entropy_with_logits(zeros({4}), zeros({3})); }, {"binary_cross_entropy_with_logits", "[3]"});
  expect_error([] { parse_reduction("avg"); }, {"reduction", "avg"});
}

}  // namespace
}  // namespace ember
