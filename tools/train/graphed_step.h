// The forward, loss and backward of `ember train`'s step replayed as a CUDA
// graph (train.cuda_graphs), over static copies of the batch.
//
// The optimizer step, gradient clipping and the loss scaler's bookkeeping
// stay eager, after the replay: a scheduled learning rate and Adam's bias
// corrections change every step, and a graph would keep the first step's
// values. Under float16 the loss scale the graph multiplies by is a device
// tensor, refilled from the scaler before each replay. A batch of another
// shape (an epoch's last, smaller batch) runs eagerly; the graph's gradient
// buffers are handed back to the parameters before the next replay, since
// that eager step's zero_grad() dropped them.
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "engine/ember.h"
#include "layers/loss.h"
#include "layers/module.h"

namespace ember {

class GraphedTrainStep {
 public:
  GraphedTrainStep(Module& model, const Loss& loss, Optimizer& optimizer, GradScaler& scaler,
                   std::optional<DType> autocast, Device device);
  // zero_grad, forward under autocast, loss, and the (scaled) backward for
  // this batch. Returns the logits and the loss: the graph's own tensors,
  // overwritten by the next call, when the batch has the captured shapes.
  std::pair<Tensor, Tensor> run(const Tensor& images, const Tensor& labels);
  bool replaying() const { return step_ && step_->is_graph(); }

 private:
  void forward_backward(const Tensor& images, const Tensor& labels, Tensor& logits, Tensor& loss);
  bool fits(const Tensor& images, const Tensor& labels) const;

  Module& model_;
  const Loss& loss_fn_;
  Optimizer& optimizer_;
  GradScaler& scaler_;
  std::optional<DType> autocast_;
  Device device_;
  Tensor images_, labels_, scale_, logits_, loss_;  // the graph's inputs and outputs
  std::vector<Tensor> params_, graph_grads_;
  std::unique_ptr<CapturedStep> step_;
};

}  // namespace ember
