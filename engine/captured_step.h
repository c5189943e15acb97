// A step over tensors of fixed shapes and addresses (a training or inference
// step on a static input batch), run as a device graph where the device has
// them: torch.cuda.graphs' warm-up, capture and replay in one object.
//
//   Tensor x = empty({256, 3, 224, 224}, cuda), y = ..., loss;    // static inputs
//   CapturedStep step(cuda, [&] {
//     opt.zero_grad();
//     loss = cross_entropy(model(x), y);
//     loss.backward();
//   });
//   for (batch : loader) { x.copy_(batch.images); y.copy_(batch.labels); step(); opt.step(); }
//
// The optimizer steps outside the graph: Adam's bias corrections and a
// scheduled learning rate change every step and are kernel arguments, so a
// captured optimizer step would replay the first ones (Adam refuses to be
// captured for that reason).
//
// Every call performs exactly one step. The first `warmup` (at least 1) calls run `fn`
// eagerly, so that what is made once (optimizer state, cuDNN's timed
// algorithm choices, the cuBLAS and cuDNN handles, which allocate, and the
// kernels' code, loaded at first launch) exists before the capture; the next
// call records `fn` as a CUDA graph and replays it, and later calls replay.
// The rules of engine/cuda/cuda_graph.h apply to `fn`: read inputs from
// tensors made outside it, keep scalars that change between calls (a
// scheduled learning rate, a loss scale) out of it or in device tensors, and
// do not read values back to the host inside it. Tensors `fn` assigns to
// outer variables (the loss above) are overwritten in place by each replay.
// On the CPU, which has no graphs, every call runs `fn`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "engine/backend.h"
#include "engine/device.h"

namespace ember {

class CapturedStep {
 public:
  CapturedStep(Device device, std::function<void()> fn, int warmup = 2);
  void operator()();
  // Whether calls now replay a captured graph (false on the CPU and during warm-up).
  bool is_graph() const { return graph_ != nullptr; }
  int64_t calls() const { return calls_; }

 private:
  Device device_;
  std::function<void()> fn_;
  int warmup_;
  int64_t calls_ = 0;
  bool has_graphs_ = true;
  std::unique_ptr<DeviceGraph> graph_;
};

}  // namespace ember
