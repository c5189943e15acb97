// Class targets outside [0, C) cannot throw inside a kernel: each thread
// that finds one records the smallest such sample index with atomicMin in
// this device flag, and check() (which synchronises the stream) throws the
// CPU backend's message naming the op, the sample and its target. Used by
// the NLL and the fused cross-entropy kernels. While a CUDA graph is being
// captured the flag cannot be read back, so the check is skipped; the
// kernels ignore (give zero loss and gradient to) such samples then.
#pragma once

#include <limits>

#include "engine/cuda/caching_allocator.h"
#include "kernels/cuda/device_types.cuh"

namespace ember {

inline constexpr unsigned long long kNoBadSample = std::numeric_limits<unsigned long long>::max();

// Records sample n as holding a bad target.
__device__ __forceinline__ void flag_bad_target(unsigned long long* flag, int64_t n) {
  atomicMin(flag, static_cast<unsigned long long>(n));
}

class BadTargetFlag {
 public:
  BadTargetFlag(const KernelContext& ctx, const char* op)
      : ctx_(ctx), op_(op), buf_(ctx.device, sizeof(unsigned long long)) {
    EMBER_CUDA_CHECK(cudaMemsetAsync(buf_.get(), 0xff, sizeof(unsigned long long), ctx.stream), op_);
  }
  unsigned long long* get() const { return buf_.as<unsigned long long>(); }
  // Waits for the kernel and throws if a target was out of range.
  void check(const Tensor& target, int64_t C) const {
    cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
    EMBER_CUDA_CHECK(cudaStreamIsCapturing(ctx_.stream, &capturing), op_);
    if (capturing != cudaStreamCaptureStatusNone) return;
    unsigned long long bad = 0;
    EMBER_CUDA_CHECK(cudaMemcpyAsync(&bad, buf_.get(), sizeof bad, cudaMemcpyDeviceToHost, ctx_.stream), op_);
    EMBER_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream), op_);
    if (bad == kNoBadSample) return;
    const int64_t n = static_cast<int64_t>(bad);
    int64_t t = 0;
    EMBER_CUDA_CHECK(cudaMemcpyAsync(&t, static_cast<const int64_t*>(target.data_ptr()) + n, sizeof t,
                                     cudaMemcpyDeviceToHost, ctx_.stream),
                     op_);
    EMBER_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream), op_);
    fail(op_, "target ", t, " of sample ", n, " is out of bounds for ", C, " classes (expected 0 to ", C - 1, ")");
  }

 private:
  const KernelContext& ctx_;
  const char* op_;
  DeviceBuffer buf_;
};

}  // namespace ember
