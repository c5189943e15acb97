#include "layers/conv_norm_activation.h"

#include "layers/conv2d.h"

namespace ember {

// Named after torchvision's class so model printouts read the same.
class Conv2dNormActivation final : public Sequential {
 public:
  Conv2dNormActivation() : Sequential("Conv2dNormActivation") {}
};

std::shared_ptr<Sequential> conv_norm_activation(int64_t in, int64_t out, int64_t kernel,
                                                 ConvNormActivationOptions o) {
  auto seq = std::make_shared<Conv2dNormActivation>();
  int64_t padding = (kernel - 1) / 2 * o.dilation;
  seq->add(make_conv2d(in, out, kernel, o.stride, padding, o.groups, /*bias=*/false, o.dilation));
  seq->add(std::make_shared<BatchNorm2d>(out, o.norm));
  if (o.activation) seq->add(o.activation());
  return seq;
}

}  // namespace ember
