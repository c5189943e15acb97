#include "models/mobilenet_v3.h"

#include <vector>

#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "models/make_divisible.h"

namespace ember {
namespace {

// One row of the paper's Tables 1 and 2, channels already width-adjusted.
struct BlockSpec {
  int64_t in, kernel, expanded, out;
  bool use_se, hardswish;
  int64_t stride, dilation;
};

// torchvision's BN for MobileNetV3: eps 1e-3, momentum 0.01 (TensorFlow's).
BatchNormOptions v3_norm() {
  BatchNormOptions n;
  n.eps = 1e-3;
  n.momentum = 0.01;
  return n;
}

ConvNormActivationOptions cna(ActivationFactory activation, int64_t stride = 1, int64_t groups = 1,
                              int64_t dilation = 1) {
  ConvNormActivationOptions o;
  o.stride = stride;
  o.groups = groups;
  o.dilation = dilation;
  o.norm = v3_norm();
  o.activation = std::move(activation);
  return o;
}

// 1x1 expand (when expanded != in), kxk depthwise, optional squeeze-excitation,
// 1x1 projection without activation; input added back when shapes match.
class InvertedResidual final : public Module {
 public:
  explicit InvertedResidual(const BlockSpec& s)
      : Module("InvertedResidual"), use_residual_(s.stride == 1 && s.in == s.out) {
    EMBER_CHECK(s.stride == 1 || s.stride == 2, "MobileNetV3", "stride must be 1 or 2, got ", s.stride);
    ActivationFactory act = s.hardswish ? ActivationFactory(make_hardswish) : ActivationFactory(make_relu);
    auto block = std::make_shared<Sequential>();
    if (s.expanded != s.in) block->add(conv_norm_activation(s.in, s.expanded, 1, cna(act)));
    // Dilated stages keep their resolution: stride 1 instead.
    int64_t stride = s.dilation > 1 ? 1 : s.stride;
    block->add(conv_norm_activation(s.expanded, s.expanded, s.kernel, cna(act, stride, s.expanded, s.dilation)));
    if (s.use_se) {
      int64_t squeeze = make_divisible(static_cast<double>(s.expanded / 4), 8);
      block->add(std::make_shared<SqueezeExcitation>(s.expanded, squeeze, make_relu, make_hardsigmoid));
    }
    block->add(conv_norm_activation(s.expanded, s.out, 1, cna(nullptr)));
    block_ = register_module("block", block);
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = (*block_)(x);
    return use_residual_ ? add(h, x) : h;
  }

 private:
  bool use_residual_;
  ModulePtr block_;
};

// The block table of torchvision's _mobilenet_v3_conf; `last_channel` gets
// the classifier's hidden width.
std::vector<BlockSpec> block_table(const std::string& arch, double width, bool reduced_tail, bool dilated,
                                   int64_t& last_channel) {
  const int64_t r = reduced_tail ? 2 : 1;
  const int64_t d = dilated ? 2 : 1;
  auto ch = [width](int64_t c) { return make_divisible(static_cast<double>(c) * width, 8); };
  // in, kernel, expanded, out, SE, hardswish, stride, dilation (channels before width scaling)
  auto row = [&](int64_t in, int64_t k, int64_t exp, int64_t out, bool se, bool hs, int64_t s, int64_t dil) {
    return BlockSpec{ch(in), k, ch(exp), ch(out), se, hs, s, dil};
  };
  const bool RE = false, HS = true;
  if (arch == "mobilenet_v3_large") {
    last_channel = ch(1280 / r);
    return {row(16, 3, 16, 16, false, RE, 1, 1),        row(16, 3, 64, 24, false, RE, 2, 1),
            row(24, 3, 72, 24, false, RE, 1, 1),        row(24, 5, 72, 40, true, RE, 2, 1),
            row(40, 5, 120, 40, true, RE, 1, 1),        row(40, 5, 120, 40, true, RE, 1, 1),
            row(40, 3, 240, 80, false, HS, 2, 1),       row(80, 3, 200, 80, false, HS, 1, 1),
            row(80, 3, 184, 80, false, HS, 1, 1),       row(80, 3, 184, 80, false, HS, 1, 1),
            row(80, 3, 480, 112, true, HS, 1, 1),       row(112, 3, 672, 112, true, HS, 1, 1),
            row(112, 5, 672, 160 / r, true, HS, 2, d),  row(160 / r, 5, 960 / r, 160 / r, true, HS, 1, d),
            row(160 / r, 5, 960 / r, 160 / r, true, HS, 1, d)};
  }
  if (arch == "mobilenet_v3_small") {
    last_channel = ch(1024 / r);
    return {row(16, 3, 16, 16, true, RE, 2, 1),        row(16, 3, 72, 24, false, RE, 2, 1),
            row(24, 3, 88, 24, false, RE, 1, 1),       row(24, 5, 96, 40, true, HS, 2, 1),
            row(40, 5, 240, 40, true, HS, 1, 1),       row(40, 5, 240, 40, true, HS, 1, 1),
            row(40, 5, 120, 48, true, HS, 1, 1),       row(48, 5, 144, 48, true, HS, 1, 1),
            row(48, 5, 288, 96 / r, true, HS, 2, d),   row(96 / r, 5, 576 / r, 96 / r, true, HS, 1, d),
            row(96 / r, 5, 576 / r, 96 / r, true, HS, 1, d)};
  }
  fail("MobileNetV3", "unknown architecture '", arch, "' (expected mobilenet_v3_large or mobilenet_v3_small)");
}

}  // namespace

MobileNetV3::MobileNetV3(const std::string& arch, int64_t num_classes, double width_mult, double dropout,
                         bool reduced_tail, bool dilated)
    : Module("MobileNetV3") {
  EMBER_CHECK(width_mult > 0, "MobileNetV3", "width_mult must be positive, got ", width_mult);
  int64_t last_channel = 0;
  std::vector<BlockSpec> blocks = block_table(arch, width_mult, reduced_tail, dilated, last_channel);
  auto features = std::make_shared<Sequential>();
  features->add(conv_norm_activation(3, blocks.front().in, 3, cna(make_hardswish, 2)));
  for (const BlockSpec& b : blocks) features->add(std::make_shared<InvertedResidual>(b));
  const int64_t last_in = blocks.back().out, last_out = 6 * last_in;
  features->add(conv_norm_activation(last_in, last_out, 1, cna(make_hardswish)));
  features_ = register_module("features", features);
  avgpool_ = register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(Pair{1, 1}));
  register_module("classifier", std::make_shared<Sequential>(std::vector<ModulePtr>{
                                    std::make_shared<Linear>(last_out, last_channel), make_hardswish(),
                                    std::make_shared<Dropout>(dropout), std::make_shared<Linear>(last_channel, num_classes)}));
  // torchvision's init: He-normal (fan_out) convolutions with zero bias (the
  // SE layers' 1x1 convs), BN 1/0, linear N(0, 0.01) with zero bias.
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

Tensor MobileNetV3::forward(const Tensor& x) {
  Tensor h = (*avgpool_)((*features_)(x)).flatten(1);
  return (*child("classifier"))(h);
}

}  // namespace ember
