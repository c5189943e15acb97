// Entry points that CUDA op families call across files (the backend methods
// themselves are in cuda_backend.h). Plain C++ declarations, so the cuDNN
// and cuBLAS files (compiled as C++) can call the hand-written kernels.
#pragma once

#include "engine/backend.h"
#include "kernels/cpu/conv_geometry.h"

namespace ember {

// activation_backward.cu: the BinaryOp activation derivatives (ReluBackward ... ClampBackward).
void activation_backward_cuda(const Tensor& out, const Tensor& grad, const Tensor& saved, BinaryOp op, OpParams p);
bool is_activation_backward(BinaryOp op);

// depthwise_conv2d.cu: convolutions with one input channel per group.
void depthwise_conv2d_forward_cuda(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                                   const ConvGeometry& g);
void depthwise_conv2d_backward_input_cuda(const Tensor& grad_input, const Tensor& grad_out, const Tensor& weight,
                                          const ConvGeometry& g);
void depthwise_conv2d_backward_weight_cuda(const Tensor& grad_weight, const Tensor& grad_out, const Tensor& input,
                                           const ConvGeometry& g);

// batch_norm.cu: the eval-mode backward (running statistics as constants):
//   dx = w * invstd * dy, dw = sum(dy * (x - mean) * invstd), db = sum(dy)
// over [N, C, S]; any of the three outputs may be undefined. mean, invstd
// (and weight when defined) are float32 for 16-bit inputs, else the input's dtype.
void batch_norm_backward_eval_cuda(const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias,
                                   const Tensor& grad_out, const Tensor& input, const Tensor& weight,
                                   const Tensor& mean, const Tensor& invstd);

// batch_norm.cu: the gradient of a fused activation at the pre-activation,
//   grad_pre = grad_out * act'((x - mean) * invstd * w + b),
// recomputed from the input (weight and bias may be undefined: 1 and 0), for
// the fused batch norm's backward ahead of the batch-norm backward proper.
// The per-channel tensors share one dtype (float32 for 16-bit inputs).
void batch_norm_activation_grad_cuda(const Tensor& grad_pre, const Tensor& grad_out, const Tensor& input,
                                     const Tensor& weight, const Tensor& bias, const Tensor& mean,
                                     const Tensor& invstd, FusedActivation act);

}  // namespace ember
