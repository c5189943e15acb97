// EfficientNet-Lite0 to Lite4 (Google's TensorFlow Lite variants of
// EfficientNet), with the module layout and parameter names of the PyTorch
// port `efficientnet_lite_pytorch` (from lukemelas' EfficientNet-PyTorch), so
// its published state_dicts load by name: _conv_stem.weight, _bn0.*,
// _blocks.N._expand_conv.weight, _blocks.N._bn0/_bn1/_bn2.*,
// _blocks.N._depthwise_conv.weight, _blocks.N._project_conv.weight,
// _conv_head.weight, _bn1.*, _fc.weight/bias.
//
// What sets Lite apart from B0-B7, for mobile accelerators and quantization:
// no squeeze-excitation, ReLU6 instead of SiLU, and the stem (32 channels),
// the first and last stages' depth and the head (1280 channels) are not
// scaled. Being a TensorFlow model, every convolution pads "SAME"
// (Conv2dSame) and batch norm uses eps 1e-3, momentum 0.01 in PyTorch terms.
// Its weights expect RGB scaled as (pixel - 127) / 128.
#pragma once

#include <string>

#include "layers/conv2d_same.h"
#include "layers/layers.h"

namespace ember {

struct EfficientNetLiteConfig {
  double width_mult = 1.0;  // channels x this, rounded to multiples of 8 (not the stem or head)
  double depth_mult = 1.0;  // blocks per stage x this, rounded up (not the first or last stage)
  double dropout = 0.2;     // before the classifier
  int64_t resolution = 224;  // the input side the variant was trained at
  double drop_connect = 0.2;  // stochastic depth of block i of N: drop_connect * i / N
};

// The settings of "lite0" ... "lite4".
EfficientNetLiteConfig efficientnet_lite_config(const std::string& variant);

class EfficientNetLite final : public Module {
 public:
  explicit EfficientNetLite(const EfficientNetLiteConfig& config, int64_t num_classes = 1000);
  Tensor forward(const Tensor& x) override;

 private:
  ModulePtr stem_, stem_norm_, blocks_, head_, head_norm_, pool_, dropout_;
};

}  // namespace ember
