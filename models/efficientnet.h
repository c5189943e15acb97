// EfficientNet B0-B7 (Tan & Le 2019) as torchvision 0.14 builds them: a 3x3
// stem, seven stages of MBConv blocks (1x1 expand, depthwise kxk, squeeze-
// excitation, 1x1 projection; SiLU) scaled by a width and a depth multiplier,
// a 1x1 conv to 4x the last stage's channels, dropout and a linear classifier.
// Residual branches are dropped by stochastic depth with a probability
// growing linearly from 0 to 0.2 over the blocks. Parameter names
// features.0.0.weight, features.1.0.block.0.0.weight, features.2.0.block.2.fc1.weight,
// ..., features.8.1.running_var, classifier.1.weight, as torchvision's.
#pragma once

#include <string>

#include "layers/layers.h"

namespace ember {

struct EfficientNetConfig {
  double width_mult = 1.0;  // channels x this, rounded to multiples of 8
  double depth_mult = 1.0;  // blocks per stage x this, rounded up
  double dropout = 0.2;     // before the classifier
  double stochastic_depth_prob = 0.2;  // of the last block; block i of N gets 0.2 * i / N
  BatchNormOptions norm;    // torchvision: PyTorch's defaults for B0-B4, eps 1e-3 / momentum 0.01 for B5-B7
};

// torchvision's settings for "b0" ... "b7".
EfficientNetConfig efficientnet_config(const std::string& variant);

class EfficientNet final : public Module {
 public:
  explicit EfficientNet(const EfficientNetConfig& config, int64_t num_classes = 1000);
  Tensor forward(const Tensor& x) override;

 private:
  ModulePtr features_, avgpool_;
};

}  // namespace ember
