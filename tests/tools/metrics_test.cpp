// ClassificationMetrics against PyTorch on the same random logits and labels
// (argmax, topk, bincount), and against hand-checked values for ties, NaN,
// empty classes and the text table.
#include "tools/lib/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/ember.h"
#include "tests/support/oracle.h"

namespace ember::test {
namespace {

Tensor random_labels(int64_t n, int64_t classes, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t& x : v) x = static_cast<int64_t>(rng() % static_cast<uint32_t>(classes));
  return from_vector(v, {n});
}

// Labels that agree with the argmax about half the time, so accuracy is not trivially ~1/C.
Tensor partly_right_labels(const Tensor& logits, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t n = logits.size(0), c = logits.size(1);
  std::vector<double> x = logits.to_vector<double>();
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double* row = x.data() + i * c;
    int64_t best = std::max_element(row, row + c) - row;
    v[static_cast<size_t>(i)] = rng() % 2 ? best : static_cast<int64_t>(rng() % static_cast<uint32_t>(c));
  }
  return from_vector(v, {n});
}

TEST(Metrics, MatchesTorchOverSeveralBatches) {
  EMBER_REQUIRE_TORCH();
  manual_seed(7);
  for (int64_t classes : {2, 3, 10, 37}) {
    SCOPED_TRACE(std::to_string(classes) + " classes");
    const int64_t k = std::min<int64_t>(5, classes);
    ClassificationMetrics m(classes);
    std::vector<Tensor> all_logits, all_labels;
    for (int64_t batch : {1, 64, 17}) {  // accumulated over batches, one of a single sample
      Tensor logits = randn({batch, classes});
      Tensor labels = partly_right_labels(logits, static_cast<uint32_t>(batch * classes));
      m.add(logits, labels);
      all_logits.push_back(logits);
      all_labels.push_back(labels);
    }
    Tensor a = cat(all_logits, 0), b = cat(all_labels, 0);
    std::string setup = "C = " + std::to_string(classes) + "; k = " + std::to_string(k);
    auto ref = torch_eval(
        "((a.argmax(1) == b).double().mean(), (a.topk(k, 1).indices == b[:, None]).any(1).double().mean(),"
        " torch.bincount(b * C + a.argmax(1), minlength=C * C).reshape(C, C))",
        {a, b}, setup);
    EXPECT_EQ(m.count(), a.size(0));
    EXPECT_DOUBLE_EQ(m.top1(), ref[0].item<double>());
    EXPECT_DOUBLE_EQ(m.topk(), ref[1].item<double>());
    EXPECT_EQ(m.confusion_matrix().shape(), (Shape{classes, classes}));
    EXPECT_EQ(m.confusion_matrix().to_vector<int64_t>(), ref[2].to_vector<int64_t>());
    // Per-class accuracy = diagonal / row sum (NaN for a class no sample has).
    std::vector<int64_t> cm = ref[2].to_vector<int64_t>();
    std::vector<double> acc = m.per_class_accuracy();
    for (int64_t t = 0; t < classes; ++t) {
      int64_t total = 0;
      for (int64_t p = 0; p < classes; ++p) total += cm[static_cast<size_t>(t * classes + p)];
      if (total == 0)
        EXPECT_TRUE(std::isnan(acc[static_cast<size_t>(t)]));
      else
        EXPECT_DOUBLE_EQ(acc[static_cast<size_t>(t)],
                         static_cast<double>(cm[static_cast<size_t>(t * classes + t)]) / total);
    }
  }
}

TEST(Metrics, HandCheckedSmallCase) {
  // Four samples, three classes; predictions 1, 0, 2, 2 (argmax), labels 0, 0, 2, 1.
  Tensor logits = from_vector(std::vector<float>{0.1f, 0.7f, 0.2f,   //
                                                 0.9f, 0.05f, 0.05f,  //
                                                 0.0f, 0.3f, 0.7f,    //
                                                 0.2f, 0.3f, 0.5f},
                              {4, 3});
  Tensor labels = from_vector(std::vector<int64_t>{0, 0, 2, 1}, {4});
  ClassificationMetrics m(3, {"cat", "dog", "bird"}, 2);
  m.add(logits, labels);
  EXPECT_DOUBLE_EQ(m.top1(), 0.5);
  EXPECT_DOUBLE_EQ(m.topk(), 0.75);  // sample 0: class 0 is third; sample 3: class 1 second
  EXPECT_EQ(m.confusion_counts(), (std::vector<int64_t>{1, 1, 0, 0, 0, 1, 0, 0, 1}));
  std::vector<double> acc = m.per_class_accuracy();
  EXPECT_DOUBLE_EQ(acc[0], 0.5);
  EXPECT_DOUBLE_EQ(acc[1], 0.0);
  EXPECT_DOUBLE_EQ(acc[2], 1.0);
  EXPECT_EQ(m.table(),
            "confusion matrix (rows: true class, columns: predicted class)\n"
            "class  0 1 2 |    acc\n"
            "0 cat  1 1 0 |  50.0%\n"
            "1 dog  0 0 1 |   0.0%\n"
            "2 bird 0 0 1 | 100.0%\n"
            "top-1 50.0%  top-2 75.0%  (4 samples)\n");
  m.reset();
  EXPECT_EQ(m.count(), 0);
  EXPECT_EQ(m.top1(), 0.0);
}

TEST(Metrics, TiesGoToTheFirstClassAndNaNRanksHighest) {
  // Ties: a stable descending sort, as argmax picks the first maximum.
  Tensor logits = from_vector(std::vector<double>{1, 1, 1,  //
                                                  1, 1, 1,  //
                                                  0, NAN, 5, //
                                                  NAN, 0, NAN},
                              {4, 3});
  Tensor labels = from_vector(std::vector<int64_t>{0, 2, 1, 2}, {4});
  ClassificationMetrics m(3, {}, 2);
  m.add(logits, labels);
  // Row 0: label 0 ranks 0. Row 1: label 2 ranks 2 (misses top-2). Row 2:
  // NaN at label 1 ranks 0. Row 3: label 2 is NaN after class 0's NaN: rank 1.
  EXPECT_DOUBLE_EQ(m.top1(), 0.5);
  EXPECT_DOUBLE_EQ(m.topk(), 0.75);
  EXPECT_EQ(m.confusion_counts(), (std::vector<int64_t>{1, 0, 0, 0, 1, 0, 2, 0, 0}));
}

TEST(Metrics, KLargerThanTheClassCountIsAllClasses) {
  ClassificationMetrics m(2);  // k = 5 > 2 classes: top-k is always right
  m.add(from_vector(std::vector<float>{1, 0, 0, 1}, {2, 2}), from_vector(std::vector<int64_t>{1, 0}, {2}));
  EXPECT_EQ(m.top1(), 0.0);
  EXPECT_EQ(m.topk(), 1.0);
  EXPECT_NE(m.table().find("top-2 100.0%"), std::string::npos);
}

TEST(Metrics, ManyClassesListOnlyAccuracies) {
  ClassificationMetrics m(30);
  m.add(randn({8, 30}), random_labels(8, 30, 1));
  std::string t = m.table();
  EXPECT_NE(t.find("30 classes; confusion matrix too wide to print"), std::string::npos) << t;
  EXPECT_EQ(t.find("rows: true class"), std::string::npos);
  EXPECT_NE(m.table(30).find("rows: true class"), std::string::npos);  // the limit is the caller's
}

TEST(Metrics, ClearErrors) {
  ClassificationMetrics m(3);
  expect_error([&] { m.add(randn({4, 5}), random_labels(4, 3, 1)); },
               {"ClassificationMetrics.add", "logits of shape [4, 5] for 3 classes"});
  expect_error([&] { m.add(randn({4, 3}), random_labels(5, 3, 1)); },
               {"ClassificationMetrics.add", "labels of shape [5]"});
  expect_error([&] { m.add(randn({2, 3}), from_vector(std::vector<int64_t>{0, 3}, {2})); },
               {"label 3 of sample 1 is outside [0, 3)"});
  expect_error([&] { m.add(randn({2, 3}), randn({2})); }, {"labels must be integers", "float32"});
  expect_error([] { ClassificationMetrics bad(3, {"a", "b"}); }, {"2 class names for 3 classes"});
  EXPECT_EQ(m.count(), 0);  // a rejected batch leaves the counts alone
}

}  // namespace
}  // namespace ember::test
