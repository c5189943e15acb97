#include "layers/conv2d.h"

#include "engine/error.h"
#include "layers/init.h"

namespace ember {

Conv2d::Conv2d(int64_t in, int64_t out, Pair k, Conv2dOptions o)
    : Module("Conv2d"), in_channels(in), out_channels(out), kernel_size(k), options(o) {
  EMBER_CHECK(in > 0 && out > 0 && k[0] > 0 && k[1] > 0, "Conv2d", "channels and kernel size must be positive, got ",
              in, " -> ", out, ", kernel ", k[0], "x", k[1]);
  EMBER_CHECK(o.groups > 0 && in % o.groups == 0 && out % o.groups == 0, "Conv2d", "in_channels ", in,
              " and out_channels ", out, " must be divisible by groups ", o.groups);
  weight = register_parameter("weight", empty({out, in / o.groups, k[0], k[1]}));
  if (o.bias) bias = register_parameter("bias", empty({out}));
  init::default_layer_init(weight, bias);
}

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, weight, bias, options.stride, options.padding, options.dilation, options.groups);
}

std::string Conv2d::extra_repr() const {
  std::string s = cat_str(in_channels, ", ", out_channels, ", kernel_size=(", kernel_size[0], ", ", kernel_size[1],
                          "), stride=(", options.stride[0], ", ", options.stride[1], ")");
  if (options.padding[0] || options.padding[1]) s += cat_str(", padding=(", options.padding[0], ", ", options.padding[1], ")");
  if (options.dilation[0] != 1 || options.dilation[1] != 1) {
    s += cat_str(", dilation=(", options.dilation[0], ", ", options.dilation[1], ")");
  }
  if (options.groups != 1) s += cat_str(", groups=", options.groups);
  if (!options.bias) s += ", bias=False";
  return s;
}

std::shared_ptr<Conv2d> make_conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
                                    int64_t groups, bool bias, int64_t dilation) {
  Conv2dOptions o;
  o.stride = {stride, stride};
  o.padding = {padding, padding};
  o.dilation = {dilation, dilation};
  o.groups = groups;
  o.bias = bias;
  return std::make_shared<Conv2d>(in, out, Pair{kernel, kernel}, o);
}

}  // namespace ember
