#include "engine/captured_step.h"

#include "engine/error.h"

namespace ember {

CapturedStep::CapturedStep(Device device, std::function<void()> fn, int warmup)
    : device_(device), fn_(std::move(fn)), warmup_(warmup) {
  EMBER_CHECK(fn_, "CapturedStep", "needs a function to run");
  // Without an eager call first, the cuBLAS/cuDNN handles (which allocate)
  // would be made inside the capture, and state an op makes on its first run
  // (SGD starting its momentum buffer) would be recorded and replayed.
  EMBER_CHECK(warmup >= 1, "CapturedStep", "needs at least 1 warm-up call before capturing, got ", warmup);
}

void CapturedStep::operator()() {
  ++calls_;
  if (graph_) {
    graph_->replay();
    return;
  }
  if (!has_graphs_ || calls_ <= warmup_) {
    fn_();
    return;
  }
  graph_ = backend(device_).capture_graph(device_, fn_);
  if (!graph_) {  // this backend runs ops as they come: stay eager
    has_graphs_ = false;
    fn_();
    return;
  }
  graph_->replay();  // the capture ran nothing: this call's step is the first replay
}

}  // namespace ember
