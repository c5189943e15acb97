// MobileNetV2 (Sandler et al. 2018) as torchvision 0.14 builds it: a 3x3
// stem, 17 inverted-residual blocks (1x1 expand, 3x3 depthwise, 1x1 linear
// projection; ReLU6), a 1x1 conv to 1280 channels, dropout and a linear
// classifier. Parameter names features.0.0.weight, features.1.conv.0.0.weight,
// ..., features.18.1.running_var, classifier.1.weight, as torchvision's.
#pragma once

#include "layers/layers.h"

namespace ember {

class MobileNetV2 final : public Module {
 public:
  // width_mult scales every layer's channels (rounded to multiples of 8);
  // dropout is the classifier's dropout probability.
  explicit MobileNetV2(int64_t num_classes = 1000, double width_mult = 1.0, double dropout = 0.2);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<Sequential> features_;
};

}  // namespace ember
