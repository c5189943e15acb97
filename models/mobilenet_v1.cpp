#include "models/mobilenet_v1.h"

#include "engine/error.h"

namespace ember {
namespace {

// A depthwise-separable convolution: the depthwise 3x3 filters each channel
// alone (spatial mixing), the pointwise 1x1 mixes channels; together about
// 1/8 of a full 3x3 conv's cost. Children "0" (depthwise) and "1" (pointwise).
class DepthwiseSeparable final : public Sequential {
 public:
  DepthwiseSeparable(int64_t in, int64_t out, int64_t stride) : Sequential("DepthwiseSeparable") {
    ConvNormActivationOptions dw;
    dw.stride = stride;
    dw.groups = in;
    add(conv_norm_activation(in, in, 3, dw));
    add(conv_norm_activation(in, out, 1));
  }
};

// Table 1 after the stem: (output channels, depthwise stride) per block. The
// table prints "s2" for the 13th depthwise conv, whose input is already 7x7;
// it must be s1 for the 7x7 average pool that follows (the reference
// implementations use 1; the stride does not change the parameter count).
struct BlockSpec {
  int64_t out, stride;
};
constexpr BlockSpec kBlocks[] = {{64, 1},  {128, 2}, {128, 1}, {256, 2}, {256, 1}, {512, 2},  {512, 1},
                                 {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1}};

}  // namespace

MobileNetV1::MobileNetV1(int64_t num_classes, double width_mult) : Module("MobileNetV1") {
  EMBER_CHECK(width_mult > 0, "MobileNetV1", "width_mult must be positive, got ", width_mult);
  auto width = [&](int64_t c) {
    int64_t w = static_cast<int64_t>(static_cast<double>(c) * width_mult);
    EMBER_CHECK(w > 0, "MobileNetV1", "width_mult ", width_mult, " leaves a layer with no channels");
    return w;
  };
  auto features = std::make_shared<Sequential>();
  ConvNormActivationOptions stem;
  stem.stride = 2;
  int64_t in = width(32);
  features->add(conv_norm_activation(3, in, 3, stem));
  for (const BlockSpec& b : kBlocks) {
    features->add(std::make_shared<DepthwiseSeparable>(in, width(b.out), b.stride));
    in = width(b.out);
  }
  features_ = register_module("features", features);
  avgpool_ = register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(Pair{1, 1}));
  auto classifier = register_module("classifier", std::make_shared<Linear>(in, num_classes));
  // As torchvision initialises MobileNetV2: He-normal (fan_out) convolutions,
  // BN 1/0, linear N(0, 0.01) with zero bias.
  apply([](Module& m) {
    if (auto* c = dynamic_cast<Conv2d*>(&m)) init::kaiming_normal_(c->weight, 0.0, "fan_out");
  });
  init::normal_(classifier->weight, 0.0, 0.01);
  init::zeros_(classifier->bias);
}

Tensor MobileNetV1::forward(const Tensor& x) {
  Tensor h = (*avgpool_)((*features_)(x)).flatten(1);
  return (*child("classifier"))(h);
}

}  // namespace ember
