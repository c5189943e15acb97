#include "tools/train/evaluate.h"

#include <cmath>

#include "engine/ember.h"
#include "tools/lib/progress_bar.h"

namespace ember {

Tensor classification_logits(const Tensor& out) {
  if (out.dim() == 2 && out.size(1) == 1) return cat({zeros_like(out), out}, 1);
  return out;
}

EvalResult evaluate(Module& model, DataLoader& loader, const Loss& loss, int64_t num_classes,
                    const std::vector<std::string>& class_names, const std::string& label) {
  EvalResult r(num_classes, class_names);
  bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  loader.start_epoch(0);
  std::unique_ptr<ProgressBar> bar;
  if (!label.empty()) bar = std::make_unique<ProgressBar>(label, loader.num_batches());
  double loss_sum = 0;
  int64_t seen = 0, step = 0;
  while (auto batch = loader.next()) {
    Tensor out = model(batch->images);
    int64_t n = batch->labels.size(0);
    loss_sum += loss(out, batch->labels).item() * static_cast<double>(n);
    r.metrics.add(classification_logits(out), batch->labels);
    seen += n;
    if (bar) {
      char l[32], a[32];
      std::snprintf(l, sizeof l, "%.4f", loss_sum / static_cast<double>(seen));
      std::snprintf(a, sizeof a, "%.2f%%", 100.0 * r.metrics.top1());
      bar->update(++step, n, {{"loss", l}, {"acc", a}});
    }
  }
  if (bar) bar->finish();
  r.loss = seen > 0 ? loss_sum / static_cast<double>(seen) : NAN;
  model.train(was_training);
  return r;
}

}  // namespace ember
