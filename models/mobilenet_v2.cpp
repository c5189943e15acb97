#include "models/mobilenet_v2.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/pool.h"
#include "models/make_divisible.h"

namespace ember {
namespace {

ConvNormActivationOptions relu6_options(int64_t stride = 1, int64_t groups = 1) {
  ConvNormActivationOptions o;
  o.stride = stride;
  o.groups = groups;
  o.activation = make_relu6;
  return o;
}

// 1x1 expand (skipped when expand_ratio is 1), 3x3 depthwise, 1x1 projection
// without activation ("linear bottleneck"); the input is added back when the
// shape is unchanged. Children named conv.0, conv.1, ... as torchvision's.
class InvertedResidual final : public Module {
 public:
  InvertedResidual(int64_t in, int64_t out, int64_t stride, int64_t expand_ratio)
      : Module("InvertedResidual"), use_residual_(stride == 1 && in == out) {
    EMBER_CHECK(stride == 1 || stride == 2, "MobileNetV2", "stride must be 1 or 2, got ", stride);
    const int64_t hidden = in * expand_ratio;
    auto conv = std::make_shared<Sequential>();
    if (expand_ratio != 1) conv->add(conv_norm_activation(in, hidden, 1, relu6_options()));
    conv->add(conv_norm_activation(hidden, hidden, 3, relu6_options(stride, hidden)));
    conv->add(make_conv2d(hidden, out, 1, 1, 0, 1, /*bias=*/false));
    conv->add(std::make_shared<BatchNorm2d>(out));
    conv_ = register_module("conv", conv);
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = (*conv_)(x);
    return use_residual_ ? add(x, h) : h;
  }

 private:
  bool use_residual_;
  ModulePtr conv_;
};

// The paper's Table 2: expansion t, output channels c, repeats n, first stride s.
struct StageSpec {
  int64_t t, c, n, s;
};
constexpr StageSpec kStages[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                 {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};

}  // namespace

MobileNetV2::MobileNetV2(int64_t num_classes, double width_mult, double dropout) : Module("MobileNetV2") {
  EMBER_CHECK(width_mult > 0, "MobileNetV2", "width_mult must be positive, got ", width_mult);
  int64_t in = make_divisible(32 * width_mult, 8);
  const int64_t last = make_divisible(1280 * std::max(1.0, width_mult), 8);
  features_ = register_module("features", std::make_shared<Sequential>());
  features_->add(conv_norm_activation(3, in, 3, relu6_options(2)));
  for (const StageSpec& st : kStages) {
    const int64_t out = make_divisible(static_cast<double>(st.c) * width_mult, 8);
    for (int64_t i = 0; i < st.n; ++i) {
      features_->add(std::make_shared<InvertedResidual>(in, out, i == 0 ? st.s : 1, st.t));
      in = out;
    }
  }
  features_->add(conv_norm_activation(in, last, 1, relu6_options()));
  auto linear = std::make_shared<Linear>(last, num_classes);
  register_module("classifier",
                  std::make_shared<Sequential>(std::vector<ModulePtr>{std::make_shared<Dropout>(dropout), linear}));
  // torchvision's init: He-normal (fan_out) convolutions, BN 1/0, linear N(0, 0.01) with zero bias.
  apply([](Module& m) {
    if (auto* c = dynamic_cast<Conv2d*>(&m)) {
      init::kaiming_normal_(c->weight, 0.0, "fan_out");
      if (c->bias.defined()) init::zeros_(c->bias);
    } else if (auto* l = dynamic_cast<Linear*>(&m)) {
      init::normal_(l->weight, 0.0, 0.01);
      init::zeros_(l->bias);
    }
  });
}

Tensor MobileNetV2::forward(const Tensor& x) {
  Tensor h = (*features_)(x);
  h = adaptive_avg_pool2d(h, {1, 1}).flatten(1);
  return (*child("classifier"))(h);
}

}  // namespace ember
