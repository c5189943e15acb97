// Pooling windows shared by the NCHW (pooling.cpp) and channels-last
// (pooling_nhwc.cpp) CPU kernels, and the channels-last entry points.
#pragma once

#include <algorithm>
#include <cstdint>

#include "engine/backend.h"

namespace ember {

// The window of output (oh, ow) for average pooling, and its divisor.
struct AvgWindow {
  int64_t h0, h1, w0, w1;
  double divisor;
};

inline AvgWindow avg_window(int64_t oh, int64_t ow, int64_t H, int64_t W, const Pool2dParams& p) {
  int64_t h0 = oh * p.stride_h - p.pad_h, w0 = ow * p.stride_w - p.pad_w;
  int64_t h1 = std::min(h0 + p.kernel_h, H + p.pad_h), w1 = std::min(w0 + p.kernel_w, W + p.pad_w);
  int64_t pool_size = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, H);
  w1 = std::min(w1, W);
  double divisor = p.divisor_override ? static_cast<double>(p.divisor_override)
                   : p.count_include_pad ? static_cast<double>(pool_size)
                                         : static_cast<double>((h1 - h0) * (w1 - w0));
  return {h0, h1, w0, w1, divisor};
}

inline int64_t adaptive_start(int64_t o, int64_t in, int64_t out) { return (o * in) / out; }
inline int64_t adaptive_end(int64_t o, int64_t in, int64_t out) { return ((o + 1) * in + out - 1) / out; }

void max_pool2d_nhwc_forward(const Tensor& out, const Tensor& indices, const Tensor& input, const Pool2dParams& p);
void max_pool2d_nhwc_backward(const Tensor& grad_input, const Tensor& grad_out, const Tensor& indices);
void avg_pool2d_nhwc_forward(const Tensor& out, const Tensor& input, const Pool2dParams& p);
void avg_pool2d_nhwc_backward(const Tensor& grad_input, const Tensor& grad_out, const Pool2dParams& p);
void adaptive_avg_pool2d_nhwc_forward(const Tensor& out, const Tensor& input);
void adaptive_avg_pool2d_nhwc_backward(const Tensor& grad_input, const Tensor& grad_out);

}  // namespace ember
