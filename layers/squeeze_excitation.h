// torchvision.ops.SqueezeExcitation: x * scale(fc2(act(fc1(avgpool(x))))),
// with fc1/fc2 1x1 convolutions (parameter names fc1.weight, fc2.bias, ...).
// EfficientNet uses SiLU and Sigmoid; MobileNetV3 uses ReLU and Hardsigmoid.
#pragma once

#include "layers/activation.h"
#include "layers/conv2d.h"
#include "layers/module.h"

namespace ember {

class SqueezeExcitation final : public Module {
 public:
  SqueezeExcitation(int64_t input_channels, int64_t squeeze_channels, ActivationFactory activation = make_relu,
                    ActivationFactory scale_activation = make_sigmoid);
  Tensor forward(const Tensor& x) override;

 private:
  ModulePtr avgpool_, activation_, scale_activation_;
  std::shared_ptr<Conv2d> fc1_, fc2_;
};

// torchvision.ops.StochasticDepth: while training, drops the input with
// probability p — per sample ("row") or for the whole batch ("batch") —
// scaling survivors by 1/(1-p); the identity in eval mode.
class StochasticDepth final : public Module {
 public:
  StochasticDepth(double p, std::string mode = "row");
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  double p;
  std::string mode;
};

}  // namespace ember
