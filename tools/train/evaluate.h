// Runs a classifier over a dataset in eval mode without gradients and
// collects its loss and classification metrics (top-1, top-k, per class,
// confusion matrix). Shared by `ember train` (validation, test) and `ember eval`.
#pragma once

#include <string>

#include "data/loader.h"
#include "layers/loss.h"
#include "layers/module.h"
#include "tools/lib/metrics.h"

namespace ember {

struct EvalResult {
  double loss = 0;  // mean over the examples
  ClassificationMetrics metrics;
  explicit EvalResult(int64_t num_classes, std::vector<std::string> names)
      : metrics(num_classes, std::move(names)) {}
};

// Logits for the metrics: a one-column binary head (BCE) becomes two columns
// [0, z] so that argmax means z > 0.
Tensor classification_logits(const Tensor& model_output);

// `label` shows in the progress bar ("val", "test"); empty: no bar.
EvalResult evaluate(Module& model, DataLoader& loader, const Loss& loss, int64_t num_classes,
                    const std::vector<std::string>& class_names, const std::string& label);

}  // namespace ember
