#include "tools/lib/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/error.h"

namespace ember {
namespace {

// The descending order of ranks: NaN above every number.
bool greater(double a, double b) { return (std::isnan(a) && !std::isnan(b)) || a > b; }

std::string percent(double fraction) {
  if (std::isnan(fraction)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%%", 100.0 * fraction);
  return buf;
}

std::string pad_left(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}
std::string pad_right(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

}  // namespace

ClassificationMetrics::ClassificationMetrics(int64_t num_classes, std::vector<std::string> class_names, int64_t k)
    : num_classes_(num_classes), k_(k), class_names_(std::move(class_names)) {
  EMBER_CHECK(num_classes > 0, "ClassificationMetrics", "needs at least one class, got ", num_classes);
  EMBER_CHECK(k > 0, "ClassificationMetrics", "top-k needs k >= 1, got ", k);
  EMBER_CHECK(class_names_.empty() || static_cast<int64_t>(class_names_.size()) == num_classes,
              "ClassificationMetrics", class_names_.size(), " class names for ", num_classes, " classes");
  reset();
}

void ClassificationMetrics::reset() {
  count_ = top1_ = topk_ = 0;
  confusion_.assign(static_cast<size_t>(num_classes_ * num_classes_), 0);
}

void ClassificationMetrics::add(const Tensor& logits, const Tensor& labels) {
  EMBER_CHECK(logits.defined() && labels.defined(), "ClassificationMetrics.add", "needs logits and labels");
  EMBER_CHECK(logits.dim() == 2 && logits.size(1) == num_classes_, "ClassificationMetrics.add", "logits of shape ",
              logits.shape(), " for ", num_classes_, " classes (want [N, ", num_classes_, "])");
  EMBER_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0), "ClassificationMetrics.add",
              "labels of shape ", labels.shape(), " for logits of shape ", logits.shape(), " (want [",
              logits.size(0), "])");
  EMBER_CHECK(is_integral(labels.dtype()), "ClassificationMetrics.add", "labels must be integers, got ",
              dtype_name(labels.dtype()));
  const std::vector<double> x = logits.to_vector<double>();
  const std::vector<int64_t> y = labels.to_vector<int64_t>();
  const int64_t n = logits.size(0), c = num_classes_, k = std::min(k_, c);
  for (int64_t i = 0; i < n; ++i)  // all checked first: a rejected batch counts nothing
    EMBER_CHECK(y[static_cast<size_t>(i)] >= 0 && y[static_cast<size_t>(i)] < c, "ClassificationMetrics.add",
                "label ", y[static_cast<size_t>(i)], " of sample ", i, " is outside [0, ", c, ")");
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = y[static_cast<size_t>(i)];
    const double* row = x.data() + i * c;
    const double truth = row[label];
    int64_t predicted = 0, rank = 0;
    for (int64_t j = 0; j < c; ++j) {
      if (greater(row[j], row[predicted])) predicted = j;
      bool tie = !greater(row[j], truth) && !greater(truth, row[j]);
      if (greater(row[j], truth) || (j < label && tie)) ++rank;
    }
    top1_ += rank == 0;
    topk_ += rank < k;
    ++confusion_[static_cast<size_t>(label * c + predicted)];
  }
  count_ += n;
}

double ClassificationMetrics::top1() const { return count_ ? static_cast<double>(top1_) / count_ : 0.0; }
double ClassificationMetrics::topk() const { return count_ ? static_cast<double>(topk_) / count_ : 0.0; }

std::vector<double> ClassificationMetrics::per_class_accuracy() const {
  std::vector<double> acc(static_cast<size_t>(num_classes_));
  for (int64_t t = 0; t < num_classes_; ++t) {
    int64_t total = 0;
    for (int64_t p = 0; p < num_classes_; ++p) total += confusion_[static_cast<size_t>(t * num_classes_ + p)];
    acc[static_cast<size_t>(t)] =
        total ? static_cast<double>(confusion_[static_cast<size_t>(t * num_classes_ + t)]) / total : NAN;
  }
  return acc;
}

Tensor ClassificationMetrics::confusion_matrix() const {
  return from_vector(confusion_, {num_classes_, num_classes_});
}

std::string ClassificationMetrics::table(int64_t max_matrix_classes) const {
  const int64_t c = num_classes_;
  std::vector<std::string> names(static_cast<size_t>(c));
  size_t name_w = 5;  // "class"
  for (int64_t i = 0; i < c; ++i) {
    std::string name = std::to_string(i);
    if (!class_names_.empty()) name += " " + class_names_[static_cast<size_t>(i)].substr(0, 16);
    name_w = std::max(name_w, name.size());
    names[static_cast<size_t>(i)] = std::move(name);
  }
  const std::vector<double> acc = per_class_accuracy();
  std::string out;
  if (c <= max_matrix_classes) {
    // Columns are labelled by class index; each as wide as its largest count.
    size_t cell_w = std::to_string(c - 1).size();
    for (int64_t v : confusion_) cell_w = std::max(cell_w, std::to_string(v).size());
    out += "confusion matrix (rows: true class, columns: predicted class)\n";
    out += pad_right("class", name_w);
    for (int64_t p = 0; p < c; ++p) out += " " + pad_left(std::to_string(p), cell_w);
    out += " | " + pad_left("acc", 6) + "\n";
    for (int64_t t = 0; t < c; ++t) {
      out += pad_right(names[static_cast<size_t>(t)], name_w);
      for (int64_t p = 0; p < c; ++p)
        out += " " + pad_left(std::to_string(confusion_[static_cast<size_t>(t * c + p)]), cell_w);
      out += " | " + pad_left(percent(acc[static_cast<size_t>(t)]), 6) + "\n";
    }
  } else {
    out += "per-class accuracy (" + std::to_string(c) + " classes; confusion matrix too wide to print)\n";
    for (int64_t t = 0; t < c; ++t)
      out += pad_right(names[static_cast<size_t>(t)], name_w) + "  " + pad_left(percent(acc[static_cast<size_t>(t)]), 6) +
             "\n";
  }
  out += "top-1 " + percent(top1()) + "  top-" + std::to_string(std::min(k_, c)) + " " + percent(topk()) + "  (" +
         std::to_string(count_) + " samples)\n";
  return out;
}

}  // namespace ember
