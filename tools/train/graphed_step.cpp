#include "tools/train/graphed_step.h"

namespace ember {

GraphedTrainStep::GraphedTrainStep(Module& model, const Loss& loss, Optimizer& optimizer, GradScaler& scaler,
                                   std::optional<DType> autocast, Device device)
    : model_(model), loss_fn_(loss), optimizer_(optimizer), scaler_(scaler), autocast_(autocast), device_(device) {
  EMBER_CHECK(device.is_cuda(), "train.cuda_graphs", "needs train.device cuda (the CPU has no graphs), got ",
              device.str());
  for (const ParamGroup& group : optimizer.param_groups()) {
    for (const Tensor& p : group.params) params_.push_back(p);
  }
}

void GraphedTrainStep::forward_backward(const Tensor& images, const Tensor& labels, Tensor& logits, Tensor& loss) {
  optimizer_.zero_grad();
  {
    AutocastGuard autocast(autocast_);
    logits = model_(images);
    loss = loss_fn_(logits, labels);
  }
  if (!scaler_.enabled()) {
    loss.backward();
  } else if (scale_.defined()) {
    mul(loss, scale_).backward();  // the graph's scale: a device tensor
  } else {
    scaler_.scale(loss).backward();
  }
}

bool GraphedTrainStep::fits(const Tensor& images, const Tensor& labels) const {
  return images_.shape() == images.shape() && labels_.shape() == labels.shape() &&
         images_.dtype() == images.dtype() && labels_.dtype() == labels.dtype();
}

std::pair<Tensor, Tensor> GraphedTrainStep::run(const Tensor& images, const Tensor& labels) {
  // The first batch fixes the graph's shapes; a batch of another shape before
  // the capture (the first was short, say a file was skipped) starts over with
  // its shapes, so that one short batch does not leave every full one eager.
  if (!step_ || (!fits(images, labels) && !step_->is_graph())) {
    images_ = empty_like(images);
    labels_ = empty_like(labels);
    if (scaler_.enabled()) scale_ = full({}, scaler_.get_scale(), TensorOptions(DType::Float32, device_));
    step_ = std::make_unique<CapturedStep>(device_, [this] { forward_backward(images_, labels_, logits_, loss_); },
                                           /*warmup=*/1);
  }
  // The scale may have changed at the last update (halved after an overflow):
  // eager batches of another shape multiply by this tensor too.
  if (scale_.defined()) scale_.fill_(scaler_.get_scale());
  if (!fits(images, labels)) {
    Tensor logits, loss;
    forward_backward(images, labels, logits, loss);
    return {logits, loss};
  }
  images_.copy_(images);
  labels_.copy_(labels);
  if (step_->is_graph() && !graph_grads_.empty()) {
    for (size_t i = 0; i < params_.size(); ++i) params_[i].set_grad(graph_grads_[i]);
  }
  const bool capturing = !step_->is_graph() && step_->calls() >= 1;  // this call records the graph
  try {
    (*step_)();
  } catch (const Error& e) {
    if (!capturing) throw;
    fail("train.cuda_graphs", e.what(), " (set train.cuda_graphs=false to train without graphs)");
  }
  if (step_->is_graph() && graph_grads_.empty()) {  // just captured: these are the buffers replays write
    for (const Tensor& p : params_) graph_grads_.push_back(p.grad());
  }
  return {logits_, loss_};
}

}  // namespace ember
