// MobileNetV3 (Howard et al. 2019) as torchvision 0.14 builds it:
// mobilenet_v3_large and mobilenet_v3_small. Inverted-residual blocks with
// optional squeeze-excitation (ReLU / Hardsigmoid) and ReLU or Hardswish; BN
// with eps 1e-3 and momentum 0.01; a classifier of Linear-Hardswish-Dropout-
// Linear. Parameter names features.0.0.weight, features.1.block.0.0.weight,
// features.4.block.2.fc1.weight, ..., classifier.0.weight, classifier.3.bias.
#pragma once

#include <string>

#include "layers/layers.h"

namespace ember {

class MobileNetV3 final : public Module {
 public:
  // arch: "mobilenet_v3_large" or "mobilenet_v3_small". width_mult scales
  // the channels (multiples of 8); reduced_tail halves the last stage's
  // channels and dilated uses dilation 2 there (torchvision's detection options).
  explicit MobileNetV3(const std::string& arch, int64_t num_classes = 1000, double width_mult = 1.0,
                       double dropout = 0.2, bool reduced_tail = false, bool dilated = false);
  Tensor forward(const Tensor& x) override;

 private:
  ModulePtr features_, avgpool_;
};

}  // namespace ember
