// Classification metrics accumulated over an evaluation:
//
//   ClassificationMetrics m(10, class_names);
//   for (batch : val) m.add(model(batch.images), batch.labels);
//   m.top1(); m.topk(); m.per_class_accuracy(); m.confusion_matrix();
//   std::cout << m.table();
//
// Exact counts on the host (logits and labels are read with to_vector, from
// any device). A sample's rank is the number of classes that come before
// its true class when the logits are sorted in descending order, ties kept
// in class order (a stable sort): top-k counts rank < k, so top-1 agrees
// with argmax, which picks the first maximum. NaN sorts above every number,
// as torch.argmax treats it: a row with NaNs predicts its first NaN class.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace ember {

class ClassificationMetrics {
 public:
  // class_names: empty, or one per class (used by table()); k: of top-k.
  explicit ClassificationMetrics(int64_t num_classes, std::vector<std::string> class_names = {}, int64_t k = 5);

  // logits [N, num_classes] (any float dtype, any device); labels [N]
  // integers in [0, num_classes). Throws ember::Error naming the bad shape
  // or label.
  void add(const Tensor& logits, const Tensor& labels);
  void reset();

  int64_t num_classes() const { return num_classes_; }
  int64_t k() const { return k_; }
  int64_t count() const { return count_; }  // samples seen
  double top1() const;                       // fraction in [0, 1]; 0 before any sample
  double topk() const;                       // top-k with k = min(k, num_classes)
  // Per true class: correct / samples of that class; NaN for a class with
  // no samples.
  std::vector<double> per_class_accuracy() const;
  // int64 [num_classes, num_classes]: rows = true class, columns = predicted.
  Tensor confusion_matrix() const;
  const std::vector<int64_t>& confusion_counts() const { return confusion_; }  // the same, row-major
  const std::vector<std::string>& class_names() const { return class_names_; }

  // A text table for the terminal: the confusion matrix with each class's
  // accuracy, then top-1 and top-k. Past max_matrix_classes classes the
  // matrix is left out (it would not fit) and only accuracies are listed.
  std::string table(int64_t max_matrix_classes = 20) const;

 private:
  int64_t num_classes_, k_;
  std::vector<std::string> class_names_;
  int64_t count_ = 0, top1_ = 0, topk_ = 0;
  std::vector<int64_t> confusion_;
};

}  // namespace ember
