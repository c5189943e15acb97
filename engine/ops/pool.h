// 2-D pooling (torch.nn.functional.max_pool2d, avg_pool2d,
// adaptive_avg_pool2d) over NCHW (or CHW) input. An empty stride means
// stride = kernel size, as in PyTorch.
#pragma once

#include <utility>

#include "engine/ops/conv.h"

namespace ember {

Tensor max_pool2d(const Tensor& x, Pair kernel, Pair stride = {0, 0}, Pair padding = {0, 0}, Pair dilation = {1, 1},
                  bool ceil_mode = false);
// (values, int64 indices: the argmax's h * W + w within its plane)
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, Pair kernel, Pair stride = {0, 0},
                                                  Pair padding = {0, 0}, Pair dilation = {1, 1},
                                                  bool ceil_mode = false);
Tensor avg_pool2d(const Tensor& x, Pair kernel, Pair stride = {0, 0}, Pair padding = {0, 0}, bool ceil_mode = false,
                  bool count_include_pad = true, int64_t divisor_override = 0);
Tensor adaptive_avg_pool2d(const Tensor& x, Pair output_size);

// PyTorch's pooling output size, including the ceil_mode rule that the last
// window must start inside the input or its left padding.
int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation, bool ceil_mode);

}  // namespace ember
