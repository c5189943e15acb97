// nn.Conv2d with TensorFlow's "SAME" padding, worked out from each input's
// size when it runs: ceil(in / stride) outputs, and where the total padding
// is odd the extra zero goes after (a stride-2 3x3 on an even input pads 0
// before and 1 after). PyTorch's padding is symmetric, so models ported from
// TensorFlow (EfficientNet-Lite) need this to reproduce their weights.
// Parameters weight [out, in/groups, k, k] and optional bias [out], named as
// nn.Conv2d's, so converted state_dicts load unchanged.
#pragma once

#include "layers/module.h"

namespace ember {

// The padding of one spatial dim: enough zeros for ceil(in / stride)
// outputs, the smaller half before (ONNX's auto_pad SAME_UPPER).
struct SamePadding {
  int64_t before, after;
};
SamePadding same_padding(int64_t in, int64_t kernel, int64_t stride, int64_t dilation = 1);

// The convolution itself, for a 4-D input [N, C, H, W].
Tensor conv2d_same(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t groups);

class Conv2dSame final : public Module {
 public:
  Conv2dSame(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1, int64_t groups = 1,
             bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t in_channels, out_channels, kernel_size, stride, groups;
  Tensor weight, bias;
};

}  // namespace ember
