// nn.Conv2d: weight [out, in/groups, kH, kW] and optional bias [out].
#pragma once

#include "engine/ops/conv.h"
#include "layers/module.h"

namespace ember {

struct Conv2dOptions {
  Pair stride{1, 1};
  Pair padding{0, 0};
  Pair dilation{1, 1};
  int64_t groups = 1;
  bool bias = true;
};

class Conv2d final : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Pair kernel_size, Conv2dOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t in_channels, out_channels;
  Pair kernel_size;
  Conv2dOptions options;
  Tensor weight, bias;
};

// Conv2d(in, out, k, stride s, padding p, groups g, bias b) with square sizes.
std::shared_ptr<Conv2d> make_conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t padding = 0,
                                    int64_t groups = 1, bool bias = true, int64_t dilation = 1);

}  // namespace ember
