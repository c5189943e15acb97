// Sizes of a 2-D convolution, read off its tensors, shared by the CPU
// convolution kernels (GEMM-based and depthwise).
#pragma once

#include <cstdint>

#include "engine/backend.h"
#include "kernels/cpu/conv_epilogue.h"

namespace ember {

struct ConvGeometry {
  int64_t N, C, H, W;     // input
  int64_t OC, KH, KW;     // weight [OC, C / groups, KH, KW]
  int64_t OH, OW;         // output
  int64_t groups, Cg, OCg;  // channels per group
  Conv2dParams p;

  ConvGeometry(const Tensor& input, const Tensor& weight, const Tensor& out, const Conv2dParams& params)
      : N(input.size(0)), C(input.size(1)), H(input.size(2)), W(input.size(3)),
        OC(weight.size(0)), KH(weight.size(2)), KW(weight.size(3)),
        OH(out.size(2)), OW(out.size(3)),
        groups(params.groups), Cg(input.size(1) / params.groups), OCg(weight.size(0) / params.groups), p(params) {}

  // One input channel per group: the depthwise kernels handle it directly.
  bool depthwise() const { return Cg == 1 && groups > 1; }
  // A 1x1, stride-1, unpadded convolution is a plain matrix product.
  // The channels-last kernels cover these; other grouped convolutions run in NCHW.
  bool has_nhwc_kernel() const { return groups == 1 || (depthwise() && OCg == 1); }
  bool pointwise() const {
    return KH == 1 && KW == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0;
  }
};

// Depthwise kernels (depthwise_conv2d.cpp). The forward kernels apply `epi`
// (conv_epilogue.h) to each part of the output as they finish it.
void depthwise_conv2d_forward_cpu(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                                  const ConvGeometry& g, const ConvEpilogueSpec& epi = {});
void depthwise_conv2d_backward_input_cpu(const Tensor& grad_input, const Tensor& grad_out, const Tensor& weight,
                                         const ConvGeometry& g);
void depthwise_conv2d_backward_weight_cpu(const Tensor& grad_weight, const Tensor& grad_out, const Tensor& input,
                                          const ConvGeometry& g);

// Channels-last kernels: groups == 1 (conv2d_nhwc.cpp) and depthwise with
// one output channel per input channel (depthwise_conv2d_nhwc.cpp).
void conv2d_nhwc_forward_cpu(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                             const ConvGeometry& g, const ConvEpilogueSpec& epi = {});
void conv2d_nhwc_backward_input_cpu(const Tensor& grad_input, const Tensor& grad_out, const Tensor& weight,
                                    const ConvGeometry& g);
void conv2d_nhwc_backward_weight_cpu(const Tensor& grad_weight, const Tensor& grad_out, const Tensor& input,
                                     const ConvGeometry& g);
void depthwise_conv2d_nhwc_forward_cpu(const Tensor& out, const Tensor& input, const Tensor& weight,
                                       const Tensor& bias, const ConvGeometry& g, const ConvEpilogueSpec& epi = {});
void depthwise_conv2d_nhwc_backward_input_cpu(const Tensor& grad_input, const Tensor& grad_out, const Tensor& weight,
                                              const ConvGeometry& g);
void depthwise_conv2d_nhwc_backward_weight_cpu(const Tensor& grad_weight, const Tensor& grad_out,
                                               const Tensor& input, const ConvGeometry& g);

}  // namespace ember
