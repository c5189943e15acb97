// MobileNet V1 (Howard et al. 2017, "MobileNets", Table 1): a 3x3 stride-2
// conv to 32 channels, 13 depthwise-separable blocks (3x3 depthwise conv,
// BN, ReLU; 1x1 pointwise conv, BN, ReLU), global average pooling and a
// linear classifier: 4,231,976 parameters at width 1.0 with 1000 classes.
// torchvision has no MobileNet V1; the names follow its style:
//   features.0.{0,1}                 stem conv, BN
//   features.<i>.0.{0,1}, .1.{0,1}   block i (1..13): depthwise conv, BN; pointwise conv, BN
//   classifier                       Linear(1024 * width, num_classes)
#pragma once

#include "layers/layers.h"

namespace ember {

class MobileNetV1 final : public Module {
 public:
  // width_mult is the paper's alpha: every layer's channels x alpha (truncated, as Keras does).
  explicit MobileNetV1(int64_t num_classes = 1000, double width_mult = 1.0);
  Tensor forward(const Tensor& x) override;

 private:
  ModulePtr features_, avgpool_;
};

}  // namespace ember
