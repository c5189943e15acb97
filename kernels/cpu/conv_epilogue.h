// What a CPU convolution does to each block of its output right after
// computing it, while the block is still in cache: nothing (conv2d), or
// y = act(y * scale[c] + shift[c] (+ residual)) per output channel c, an
// evaluation-mode batch norm folded in (Backend::conv2d_forward_batch_norm).
// Run as separate ops, the batch norm reads and writes the whole output once
// more from memory, and the residual add once again; here it is one pass
// over data the product has just written. The arithmetic is batch_norm_rows.h's,
// so the numbers equal those of the ops one after the other. channel_span
// runs in the caller's thread (for NCHW, sgemm's threads call it on each
// block of the product as it becomes final); pixels, for channels-last,
// spreads over the threads when called outside a parallel region.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/backend.h"
#include "kernels/cpu/batch_norm_nhwc.h"
#include "kernels/cpu/batch_norm_rows.h"
#include "kernels/cpu/parallel.h"

namespace ember {

// The batch norm, activation and residual of a call, before the dtype is known.
struct ConvEpilogueSpec {
  const BatchNormEval* bn = nullptr;  // null: no epilogue
  FusedActivation act = FusedActivation::None;
  Tensor residual;  // undefined, or the output's shape and memory layout
};

template <class T>
class ConvEpilogue {
 public:
  ConvEpilogue(const ConvEpilogueSpec& spec, int64_t channels) : act_(spec.act), channels_(channels) {
    if (spec.bn == nullptr) return;
    active_ = true;
    const BatchNormEval& bn = *spec.bn;
    eval_scale_and_shift<T>(channels, static_cast<const T*>(bn.running_mean.data_ptr()),
                            static_cast<const T*>(bn.running_var.data_ptr()), bn.eps, ptr_or_null<T>(bn.weight),
                            ptr_or_null<T>(bn.bias), scale_, shift_);
    residual_ = ptr_or_null<T>(spec.residual);
  }

  bool active() const { return active_; }
  // The epilogue as kernels that apply it to their own registers before
  // the store take it (depthwise_rows.h, depthwise_channel_groups.h,
  // conv2d_few_channels.h): kStoreSums, nothing to apply; kNormalise,
  // kNormaliseRelu, kNormaliseRelu6, scale and shift (clamp_row's fused
  // multiply-add), then nothing, ReLU or ReLU6; kAfterStore where they
  // cannot (another activation, a residual sum): they store the sums and
  // call channel_span.
  enum RegisterMode : int { kAfterStore = -1, kStoreSums, kNormalise, kNormaliseRelu, kNormaliseRelu6 };
  RegisterMode register_mode() const {
    if (!active_) return kStoreSums;
    if (residual_ != nullptr) return kAfterStore;
    switch (act_) {
      case FusedActivation::None: return kNormalise;
      case FusedActivation::Relu: return kNormaliseRelu;
      case FusedActivation::Relu6: return kNormaliseRelu6;
      default: return kAfterStore;
    }
  }
  const T* scales() const { return scale_.data(); }  // per channel (active only)
  const T* shifts() const { return shift_.data(); }

  // NCHW: `len` elements of channel c's plane, the first at element `offset`
  // of the output (y points there).
  void channel_span(T* y, int64_t offset, int64_t c, int64_t len) const {
    if (!active_) return;
    const size_t i = static_cast<size_t>(c);
    dispatch_activation(act_, [&]<FusedActivation A>() {
      if (residual_) return normalise_row_add<T, A>(y, residual_ + offset, y, len, scale_[i], shift_[i]);
      normalise_row<T, A>(y, y, len, scale_[i], shift_[i]);
    });
  }

  // Channels-last: the output pixels [m0, m1), `channels` values each (y
  // points at pixel m0).
  void pixels(T* y, int64_t m0, int64_t m1) const {
    if (!active_) return;
    parallel_for(m1 - m0, std::max<int64_t>(1, kGrain / std::max<int64_t>(channels_, 1)), [&](int64_t b, int64_t e) {
      dispatch_activation(act_, [&]<FusedActivation A>() {
        for (int64_t m = m0 + b; m < m0 + e; ++m) {
          T* q = y + (m - m0) * channels_;
          if (residual_) {
            normalise_pixel_add<T, A>(q, residual_ + m * channels_, q, channels_, scale_.data(), shift_.data());
          } else {
            normalise_pixel<T, A>(q, q, channels_, scale_.data(), shift_.data());
          }
        }
      });
    });
  }

 private:
  static constexpr int64_t kGrain = 16384;  // elements a thread is worth starting for
  FusedActivation act_;
  int64_t channels_;
  bool active_ = false;
  std::vector<T> scale_, shift_;
  const T* residual_ = nullptr;
};

}  // namespace ember
