// CUDA graphs: the kernels and copies a function queues, recorded once and
// then replayed with a single launch (torch.cuda.CUDAGraph). A training step
// of a CNN is hundreds of small launches whose CPU cost can exceed the GPU's
// work at small batches; a replay costs one.
//
//   CudaGraph graph(0, [&] { loss = step(static_x, static_y); });   // records, runs nothing
//   static_x.copy_(next_batch); graph.replay();                      // runs the recorded work
//
// What a replay does is fixed at capture:
// - Every address. Tensors the function reads or writes that were made
//   before the capture (weights, optimizer state, the static inputs) must
//   stay alive, and new data goes in by copying into them. Tensors the
//   function makes come from the graph's private memory pool (see
//   caching_allocator.h) and keep their addresses for every replay, so the
//   outputs it returns are overwritten by each replay.
// - Every kernel argument, so host scalars (a learning rate, a loss scale)
//   are baked in; keep changing scalars in device tensors.
// - Random numbers are not: ops drawing from the default generator inside the
//   capture read their seed and offset from device memory that replay()
//   sets, so every replay draws fresh numbers, exactly those an eager run
//   would have drawn at that point. The capture itself draws none.
// During the capture nothing may synchronise with the device: no .item(), no
// copy to the host, no cudaFree. cuDNN algorithms are not timed then (run
// the function eagerly first so cudnn_benchmark choices are cached), and the
// cross-entropy's out-of-range-target check, which reads a flag back, is
// skipped. The capture runs on a stream of its own; replay() launches on the
// current stream, in order with the work around it.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "engine/backend.h"
#include "engine/cuda/caching_allocator.h"
#include "engine/cuda/cuda_stream.h"
#include "engine/random.h"

namespace ember {

class CudaGraph final : public DeviceGraph {
 public:
  // Records the work `fn` queues on `device`. Throws, naming the cause, when
  // CUDA rejects the capture (fn synchronised, or used another stream).
  CudaGraph(int device, const std::function<void()>& fn);
  ~CudaGraph() override;
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  void replay() override;
  size_t num_nodes() const { return num_nodes_; }
  int device() const { return device_; }

  // The state of a capture in progress, for the ops that must act
  // differently while recording (random draws, library workspaces).
  class Capture;

 private:
  void release() noexcept;

  int device_;
  uint64_t pool_ = 0;
  size_t num_nodes_ = 0;
  cudaGraphExec_t exec_ = nullptr;
  std::unique_ptr<CudaStream> capture_stream_;
  std::unique_ptr<Capture> capture_;
  // Random numbers: {seed, offset} on the device, set before each replay.
  DeviceBuffer philox_state_;
  uint64_t host_philox_state_[2] = {0, 0};
  uint64_t philox_offsets_used_ = 0;
  cudaStream_t last_replay_stream_ = nullptr;
};

class CudaGraph::Capture {
 public:
  Capture(int device, GeneratorState start, const uint64_t* philox_state)
      : device_(device), start_(start), philox_state_(philox_state) {}

  // A random draw the op asked for at (seed, offset) of the default
  // generator: the kernel adds `offset_in_graph` to the replay's offset at
  // `device_state` ({seed, offset}).
  struct PhiloxArgs {
    uint64_t offset_in_graph;
    const uint64_t* device_state;
  };
  PhiloxArgs philox(uint64_t seed, uint64_t offset, const char* op) const;
  // Workspace memory of at least `nbytes` that lives as long as the graph
  // (an eager workspace could be freed and reused while replays still use it).
  void* workspace(size_t nbytes);
  int device() const { return device_; }
  GeneratorState start() const { return start_; }

 private:
  int device_;
  GeneratorState start_;
  const uint64_t* philox_state_;
  std::vector<DeviceBuffer> workspaces_;
  friend class CudaGraph;
};

// The capture this thread is recording on `device`'s current stream, or null.
CudaGraph::Capture* active_capture(int device);

}  // namespace ember
