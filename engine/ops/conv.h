// 2-D convolution (torch.nn.functional.conv2d): NCHW input (or CHW for one
// image), OIHW weight with groups, optional bias.
#pragma once

#include <array>

#include "engine/tensor.h"

namespace ember {

using Pair = std::array<int64_t, 2>;

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(), Pair stride = {1, 1},
              Pair padding = {0, 0}, Pair dilation = {1, 1}, int64_t groups = 1);

// Output size of one spatial dim: (in + 2*pad - dilation*(k-1) - 1) / stride + 1.
int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation);

}  // namespace ember
