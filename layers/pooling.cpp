#include "layers/pooling.h"

#include "engine/error.h"

namespace ember {

MaxPool2d::MaxPool2d(Pair k, Pair s, Pair p, Pair d, bool ceil)
    : Module("MaxPool2d"), kernel(k), stride(s[0] == 0 ? k : s), padding(p), dilation(d), ceil_mode(ceil) {}

Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, kernel, stride, padding, dilation, ceil_mode); }

std::string MaxPool2d::extra_repr() const {
  return cat_str("kernel_size=", kernel[0], ", stride=", stride[0], ", padding=", padding[0], ", dilation=",
                 dilation[0], ", ceil_mode=", ceil_mode ? "True" : "False");
}

AvgPool2d::AvgPool2d(Pair k, Pair s, Pair p, bool ceil, bool include_pad, int64_t divisor)
    : Module("AvgPool2d"), kernel(k), stride(s[0] == 0 ? k : s), padding(p), ceil_mode(ceil),
      count_include_pad(include_pad), divisor_override(divisor) {}

Tensor AvgPool2d::forward(const Tensor& x) {
  return avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override);
}

std::string AvgPool2d::extra_repr() const {
  return cat_str("kernel_size=", kernel[0], ", stride=", stride[0], ", padding=", padding[0]);
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Pair size) : Module("AdaptiveAvgPool2d"), output_size(size) {}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return adaptive_avg_pool2d(x, output_size); }

std::string AdaptiveAvgPool2d::extra_repr() const {
  return output_size[0] == output_size[1] ? cat_str("output_size=", output_size[0])
                                          : cat_str("output_size=(", output_size[0], ", ", output_size[1], ")");
}

}  // namespace ember
