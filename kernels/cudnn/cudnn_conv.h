// Convolution through cuDNN, callable directly: the CUDA backend's conv2d
// methods use these for every convolution except depthwise ones (one input
// channel per group), which run on Ember's own kernel
// (kernels/cuda/depthwise_conv2d.cu); tests call these to compare the two.
// Tensors are contiguous NCHW / OIHW on one CUDA device; float32, float64,
// float16 or bfloat16. No bias here: the backend adds it.
#pragma once

#include "engine/backend.h"

namespace ember {

void cudnn_conv2d_forward(const Tensor& out, const Tensor& input, const Tensor& weight, const Conv2dParams& p);
void cudnn_conv2d_backward_input(const Tensor& grad_input, const Tensor& grad_out, const Tensor& weight,
                                 const Conv2dParams& p);
void cudnn_conv2d_backward_weight(const Tensor& grad_weight, const Tensor& grad_out, const Tensor& input,
                                  const Conv2dParams& p);

// Number of (shape, dtype, parameters) keys whose algorithm choice is cached.
size_t cudnn_conv_cache_size();

}  // namespace ember
