// CUDA graph capture and replay; what a replay keeps fixed is in cuda_graph.h.
#include "engine/cuda/cuda_graph.h"

#include <atomic>
#include <cstdio>

#include "engine/cuda/cuda_error.h"

namespace ember {
namespace {

const char* kOp = "cuda graph";

// The capture this thread is recording (one at a time per thread).
thread_local CudaGraph::Capture* tls_capture = nullptr;

uint64_t next_pool_id() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}

// Why a capture failed, in words a user can act on.
std::string capture_hint(cudaError_t err) {
  switch (err) {
    case cudaErrorStreamCaptureInvalidated:
    case cudaErrorStreamCaptureUnsupported:
      return "the captured function did something a graph cannot record (synchronised with the device: "
             ".item(), a copy to the host, cudaFree)";
    case cudaErrorStreamCaptureUnjoined:
      return "work forked to another stream was not joined back before the capture ended";
    case cudaErrorStreamCaptureImplicit:
      return "the captured function used the legacy default stream";
    default:
      return "";
  }
}

}  // namespace

CudaGraph::Capture* active_capture(int device) {
  CudaGraph::Capture* c = tls_capture;
  return c && c->device() == device ? c : nullptr;
}

CudaGraph::Capture::PhiloxArgs CudaGraph::Capture::philox(uint64_t seed, uint64_t offset, const char* op) const {
  // The replay supplies the default generator's state of the moment; a draw
  // from another generator could not be advanced between replays.
  EMBER_CHECK(seed == start_.seed && offset >= start_.offset, op,
              "random numbers inside a CUDA graph capture must come from the default generator");
  return {offset - start_.offset, philox_state_};
}

void* CudaGraph::Capture::workspace(size_t nbytes) {
  if (nbytes == 0) return nullptr;
  if (!workspaces_.empty() && workspaces_.back().size() >= nbytes) return workspaces_.back().get();
  // The smaller buffers stay too: work recorded earlier in the capture uses them.
  workspaces_.emplace_back(device_, nbytes);
  return workspaces_.back().get();
}

CudaGraph::CudaGraph(int device, const std::function<void()>& fn) : device_(device) {
  EMBER_CHECK(!tls_capture, kOp, "a capture is already in progress in this thread (graphs do not nest)");
  DeviceGuard guard(device);
  philox_state_ = DeviceBuffer(device, sizeof host_philox_state_);  // ordinary memory, held by the graph
  capture_stream_ = std::make_unique<CudaStream>(device);
  const cudaStream_t stream = capture_stream_->raw();
  CudaCachingAllocator& allocator = cuda_caching_allocator(device);
  pool_ = next_pool_id();
  Generator& gen = default_generator();
  const GeneratorState start = gen.state();
  capture_ = std::make_unique<Capture>(device, start, philox_state_.as<uint64_t>());

  allocator.begin_private_pool(stream, pool_);
  cudaGraph_t graph = nullptr;
  cudaError_t end_err = cudaSuccess;
  {
    StreamGuard on_capture_stream(device, stream);
    // Thread-local mode: only this thread's unsafe calls break the capture,
    // so loader threads may keep allocating pinned memory meanwhile.
    cudaError_t err = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
    if (err != cudaSuccess) {
      allocator.end_private_pool(stream);
      release();
      throw_cuda_error(err, kOp, "(beginning the capture)");
    }
    tls_capture = capture_.get();
    auto abandon = [&] {
      tls_capture = nullptr;
      cudaStreamEndCapture(stream, &graph);
      if (graph) cudaGraphDestroy(graph);
      cudaGetLastError();
      allocator.end_private_pool(stream);
      gen.set_state(start);
      release();
    };
    try {
      fn();
    } catch (const Error& e) {
      abandon();
      const std::string message = e.what();
      const bool capture_rule = message.find("Capture") != std::string::npos;
      fail(kOp, "capture failed: ", message,
           capture_rule ? "; inside a capture nothing may synchronise with the device (.item(), copies to the host)"
                        : "");
    } catch (...) {
      abandon();
      throw;
    }
    tls_capture = nullptr;
    end_err = cudaStreamEndCapture(stream, &graph);
  }
  allocator.end_private_pool(stream);
  // The capture reserved random offsets without drawing; the first replay
  // draws them instead.
  philox_offsets_used_ = gen.state().offset - start.offset;
  gen.set_state(start);
  if (end_err != cudaSuccess || !graph) {
    cudaGetLastError();
    release();
    const std::string hint = capture_hint(end_err);
    fail(kOp, "capture failed: CUDA error ", cudaGetErrorName(end_err), " (", cudaGetErrorString(end_err), ")",
         hint.empty() ? "" : "; " + hint);
  }
  cudaError_t err = cudaGraphGetNodes(graph, nullptr, &num_nodes_);
  if (err == cudaSuccess) err = cudaGraphInstantiate(&exec_, graph, 0);
  cudaGraphDestroy(graph);  // the executable graph keeps what it needs
  if (err != cudaSuccess) {
    release();
    throw_cuda_error(err, kOp, "(instantiating the captured graph)");
  }
}

CudaGraph::~CudaGraph() { release(); }

void CudaGraph::release() noexcept {
  if (exec_) {
    // Replays may still run: their memory must not be handed out before they end.
    if (last_replay_stream_) cudaStreamSynchronize(last_replay_stream_);
    cudaGraphExecDestroy(exec_);
    exec_ = nullptr;
  }
  capture_.reset();  // its workspaces go back to the private pool ...
  if (pool_) {
    cuda_caching_allocator(device_).release_pool(pool_);  // ... which joins the ordinary cache
    pool_ = 0;
  }
}

void CudaGraph::replay() {
  EMBER_CHECK(exec_, kOp, "replay() of a graph whose capture failed");
  EMBER_CHECK(!tls_capture, kOp, "replay() inside a capture");
  DeviceGuard guard(device_);
  const cudaStream_t stream = current_stream(device_);
  if (philox_offsets_used_ > 0) {
    Generator& gen = default_generator();
    const GeneratorState s = gen.state();
    host_philox_state_[0] = s.seed;
    host_philox_state_[1] = s.offset;
    // From pageable memory: the call returns once the bytes are staged, so
    // the next replay may overwrite host_philox_state_.
    EMBER_CUDA_CHECK(cudaMemcpyAsync(philox_state_.get(), host_philox_state_, sizeof host_philox_state_,
                                     cudaMemcpyHostToDevice, stream),
                     kOp);
    gen.set_state({s.seed, s.offset + philox_offsets_used_});
  }
  EMBER_CUDA_CHECK(cudaGraphLaunch(exec_, stream), kOp);
  last_replay_stream_ = stream;
}

}  // namespace ember
