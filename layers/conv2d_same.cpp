#include "layers/conv2d_same.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/ops/conv.h"
#include "engine/ops/shape_ops.h"
#include "layers/init.h"

namespace ember {

Conv2dSame::Conv2dSame(int64_t in, int64_t out, int64_t k, int64_t s, int64_t g, bool with_bias)
    : Module("Conv2dSame"), in_channels(in), out_channels(out), kernel_size(k), stride(s), groups(g) {
  EMBER_CHECK(in > 0 && out > 0 && k > 0 && s > 0, "Conv2dSame",
              "channels, kernel size and stride must be positive, got ", in, " -> ", out, ", kernel ", k, ", stride ",
              s);
  EMBER_CHECK(g > 0 && in % g == 0 && out % g == 0, "Conv2dSame", "in_channels ", in, " and out_channels ", out,
              " must be divisible by groups ", g);
  weight = register_parameter("weight", empty({out, in / g, k, k}));
  if (with_bias) bias = register_parameter("bias", empty({out}));
  init::default_layer_init(weight, bias);
}

SamePadding same_padding(int64_t in, int64_t kernel, int64_t stride, int64_t dilation) {
  const int64_t out = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>(0, (out - 1) * stride + dilation * (kernel - 1) + 1 - in);
  return {total / 2, total - total / 2};
}

Tensor conv2d_same(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t groups) {
  EMBER_CHECK(x.dim() == 4 && weight.dim() == 4, "conv2d_same", "expected a 4-D input [N, C, H, W] and weight, got ",
              x.shape(), " and ", weight.shape());
  const SamePadding h = same_padding(x.size(2), weight.size(2), stride);
  const SamePadding w = same_padding(x.size(3), weight.size(3), stride);
  // Even padding goes to the convolution itself; only uneven padding costs a padded copy.
  if (h.before == h.after && w.before == w.after) {
    return conv2d(x, weight, bias, {stride, stride}, {h.before, w.before}, {1, 1}, groups);
  }
  Tensor padded = pad(x, {w.before, w.after, h.before, h.after});
  return conv2d(padded, weight, bias, {stride, stride}, {0, 0}, {1, 1}, groups);
}

Tensor Conv2dSame::forward(const Tensor& x) { return conv2d_same(x, weight, bias, stride, groups); }

std::string Conv2dSame::extra_repr() const {
  std::string s = cat_str(in_channels, ", ", out_channels, ", kernel_size=(", kernel_size, ", ", kernel_size,
                          "), stride=(", stride, ", ", stride, "), padding=SAME");
  if (groups != 1) s += cat_str(", groups=", groups);
  if (!bias.defined()) s += ", bias=False";
  return s;
}

}  // namespace ember
