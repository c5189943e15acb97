// 2-D convolution (torch.nn.functional.conv2d): NCHW input (or CHW for one
// image), OIHW weight with groups, optional bias.
#pragma once

#include <array>

#include "engine/backend.h"
#include "engine/tensor.h"

namespace ember {

using Pair = std::array<int64_t, 2>;

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(), Pair stride = {1, 1},
              Pair padding = {0, 0}, Pair dilation = {1, 1}, int64_t groups = 1);

// Inference: act(batch_norm(conv2d(input, weight, bias)) + residual), the
// batch norm in evaluation mode (running statistics), the residual optional
// (the output's shape; act is then None or ReLU). One op instead of three,
// and on the CPU one pass over the output: the batch norm, the sum and the
// activation are applied to each block of the output while it is in cache.
// Numbers as those of the ops one after the other. It records no autograd
// graph and refuses tensors that require grad; 4-D NCHW (or channels-last)
// input only. layers/fusion.h calls it for a model in eval mode under
// NoGradGuard.
Tensor conv2d_batch_norm(const Tensor& input, const Tensor& weight, const Tensor& bias, Pair stride, Pair padding,
                         Pair dilation, int64_t groups, const BatchNormEval& bn,
                         FusedActivation act = FusedActivation::None, const Tensor& residual = Tensor());

// Inference, a pre-activation network's layer (DenseNet's norm1, relu1,
// conv1, norm2, relu2): act(batch_norm(conv2d(input_act(batch_norm(input,
// input_bn)), weight), bn)), both batch norms in evaluation mode, no
// convolution bias. On the CPU a float32 1x1 convolution applies the
// input's batch norm and ReLU as its product reads the input, so the
// normalised input is never written. Numbers as those of the ops one after
// the other; no autograd graph, as conv2d_batch_norm.
Tensor batch_norm_conv2d_batch_norm(const Tensor& input, const BatchNormEval& input_bn, FusedActivation input_act,
                                    const Tensor& weight, Pair stride, Pair padding, Pair dilation, int64_t groups,
                                    const BatchNormEval& bn, FusedActivation act);

// Output size of one spatial dim: (in + 2*pad - dilation*(k-1) - 1) / stride + 1.
int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation);

}  // namespace ember
