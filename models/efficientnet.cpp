#include "models/efficientnet.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "models/efficientnet_stages.h"
#include "models/make_divisible.h"

namespace ember {
namespace {

ConvNormActivationOptions cna(const BatchNormOptions& norm, ActivationFactory activation, int64_t stride = 1,
                              int64_t groups = 1) {
  ConvNormActivationOptions o;
  o.stride = stride;
  o.groups = groups;
  o.norm = norm;
  o.activation = std::move(activation);
  return o;
}

// Mobile inverted bottleneck: 1x1 expand (unless the ratio is 1), kxk
// depthwise, squeeze-excitation to in/4 channels, 1x1 projection without
// activation; when the shape is unchanged, the branch goes through
// stochastic depth and the input is added back.
class MBConv final : public Module {
 public:
  MBConv(int64_t in, int64_t out, int64_t kernel, int64_t stride, double expand_ratio, double drop_prob,
         const BatchNormOptions& norm)
      : Module("MBConv"), use_residual_(stride == 1 && in == out) {
    EMBER_CHECK(stride == 1 || stride == 2, "EfficientNet", "stride must be 1 or 2, got ", stride);
    const int64_t expanded = make_divisible(static_cast<double>(in) * expand_ratio, 8);
    auto block = std::make_shared<Sequential>();
    if (expanded != in) block->add(conv_norm_activation(in, expanded, 1, cna(norm, make_silu)));
    block->add(conv_norm_activation(expanded, expanded, kernel, cna(norm, make_silu, stride, expanded)));
    block->add(std::make_shared<SqueezeExcitation>(expanded, std::max<int64_t>(1, in / 4), make_silu, make_sigmoid));
    block->add(conv_norm_activation(expanded, out, 1, cna(norm, nullptr)));
    block_ = register_module("block", block);
    stochastic_depth_ = register_module("stochastic_depth", std::make_shared<StochasticDepth>(drop_prob, "row"));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = (*block_)(x);
    if (!use_residual_) return h;
    return add((*stochastic_depth_)(h), x);
  }

 private:
  bool use_residual_;
  ModulePtr block_, stochastic_depth_;
};

}  // namespace

EfficientNetConfig efficientnet_config(const std::string& variant) {
  // width, depth, dropout per variant (torchvision 0.14's efficientnet_b0 ... _b7).
  struct Row {
    const char* name;
    double width, depth, dropout;
  };
  static constexpr Row kRows[] = {{"b0", 1.0, 1.0, 0.2}, {"b1", 1.0, 1.1, 0.2}, {"b2", 1.1, 1.2, 0.3},
                                  {"b3", 1.2, 1.4, 0.3}, {"b4", 1.4, 1.8, 0.4}, {"b5", 1.6, 2.2, 0.4},
                                  {"b6", 1.8, 2.6, 0.5}, {"b7", 2.0, 3.1, 0.5}};
  for (const Row& r : kRows) {
    if (variant != r.name) continue;
    EfficientNetConfig c;
    c.width_mult = r.width;
    c.depth_mult = r.depth;
    c.dropout = r.dropout;
    // B5-B7 carry the TensorFlow BN settings their ported weights were trained with.
    if (variant == "b5" || variant == "b6" || variant == "b7") {
      c.norm.eps = 1e-3;
      c.norm.momentum = 0.01;
    }
    return c;
  }
  fail("EfficientNet", "unknown variant '", variant, "' (expected b0 ... b7)");
}

EfficientNet::EfficientNet(const EfficientNetConfig& config, int64_t num_classes) : Module("EfficientNet") {
  EMBER_CHECK(config.width_mult > 0 && config.depth_mult > 0, "EfficientNet",
              "width and depth multipliers must be positive, got ", config.width_mult, " and ", config.depth_mult);
  auto channels = [&](int64_t c) { return make_divisible(static_cast<double>(c) * config.width_mult, 8); };
  auto depth = [&](int64_t n) {
    return static_cast<int64_t>(std::ceil(static_cast<double>(n) * config.depth_mult));
  };
  int64_t total_blocks = 0;
  for (const MBConvStage& s : kEfficientNetB0Stages) total_blocks += depth(s.blocks);

  auto features = std::make_shared<Sequential>();
  features->add(conv_norm_activation(3, channels(kEfficientNetB0Stages[0].in), 3, cna(config.norm, make_silu, 2)));
  int64_t block_id = 0;
  for (const MBConvStage& s : kEfficientNetB0Stages) {
    auto stage = std::make_shared<Sequential>();
    int64_t in = channels(s.in);
    const int64_t out = channels(s.out);
    for (int64_t i = 0; i < depth(s.blocks); ++i) {
      double drop = config.stochastic_depth_prob * static_cast<double>(block_id) / static_cast<double>(total_blocks);
      stage->add(std::make_shared<MBConv>(in, out, s.kernel, i == 0 ? s.stride : 1, s.expand, drop, config.norm));
      in = out;
      ++block_id;
    }
    features->add(stage);
  }
  const int64_t last_in = channels(kEfficientNetB0Stages[6].out), last_out = 4 * last_in;
  features->add(conv_norm_activation(last_in, last_out, 1, cna(config.norm, make_silu)));
  features_ = register_module("features", features);
  avgpool_ = register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(Pair{1, 1}));
  auto linear = std::make_shared<Linear>(last_out, num_classes);
  register_module("classifier", std::make_shared<Sequential>(
                                    std::vector<ModulePtr>{std::make_shared<Dropout>(config.dropout), linear}));
  // torchvision's init: He-normal (fan_out) convolutions with zero bias, BN
  // 1/0, linear U(-1/sqrt(out_features), +1/sqrt(out_features)) with zero bias.
  apply([](Module& m) {
    if (auto* c = dynamic_cast<Conv2d*>(&m)) {
      init::kaiming_normal_(c->weight, 0.0, "fan_out");
      if (c->bias.defined()) init::zeros_(c->bias);
    } else if (auto* l = dynamic_cast<Linear*>(&m)) {
      double range = 1.0 / std::sqrt(static_cast<double>(l->out_features));
      init::uniform_(l->weight, -range, range);
      init::zeros_(l->bias);
    }
  });
}

Tensor EfficientNet::forward(const Tensor& x) {
  Tensor h = (*avgpool_)((*features_)(x)).flatten(1);
  return (*child("classifier"))(h);
}

}  // namespace ember
