#include "models/efficientnet_lite.h"

#include <cmath>

#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "layers/fusion.h"
#include "models/efficientnet_stages.h"
#include "models/make_divisible.h"

namespace ember {
namespace {

// TensorFlow's batch norm decay 0.99 and epsilon 1e-3, as PyTorch options.
BatchNormOptions tf_batch_norm() {
  BatchNormOptions o;
  o.eps = 1e-3;
  o.momentum = 0.01;
  return o;
}

// Mobile inverted bottleneck without squeeze-excitation: 1x1 expand (unless
// the ratio is 1), kxk depthwise, 1x1 projection; ReLU6 after the first two.
// When the shape is unchanged, the input is added back to a branch that
// stochastic depth drops while training (the port's "drop connect").
class LiteMBConv final : public Module {
 public:
  LiteMBConv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t expand_ratio, double drop_prob)
      : Module("MBConvBlock"), use_residual_(stride == 1 && in == out) {
    const int64_t expanded = in * expand_ratio;
    if (expand_ratio != 1) {
      expand_ = register_module("_expand_conv", std::make_shared<Conv2dSame>(in, expanded, 1, 1, 1, false));
      expand_norm_ = register_module("_bn0", std::make_shared<BatchNorm2d>(expanded, tf_batch_norm()));
    }
    depthwise_ = register_module("_depthwise_conv",
                                 std::make_shared<Conv2dSame>(expanded, expanded, kernel, stride, expanded, false));
    depthwise_norm_ = register_module("_bn1", std::make_shared<BatchNorm2d>(expanded, tf_batch_norm()));
    project_ = register_module("_project_conv", std::make_shared<Conv2dSame>(expanded, out, 1, 1, 1, false));
    project_norm_ = register_module("_bn2", std::make_shared<BatchNorm2d>(out, tf_batch_norm()));
    if (use_residual_) drop_ = register_module("stochastic_depth", std::make_shared<StochasticDepth>(drop_prob, "row"));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = x;
    if (expand_) h = norm_activation(*expand_norm_, FusedActivation::Relu6, (*expand_)(h));
    h = norm_activation(*depthwise_norm_, FusedActivation::Relu6, (*depthwise_)(h));
    h = (*project_norm_)((*project_)(h));
    return use_residual_ ? add((*drop_)(h), x) : h;
  }

 private:
  bool use_residual_;
  ModulePtr expand_, expand_norm_, depthwise_, depthwise_norm_, project_, project_norm_, drop_;
};

constexpr int64_t kStemChannels = 32, kHeadChannels = 1280;

}  // namespace

EfficientNetLiteConfig efficientnet_lite_config(const std::string& variant) {
  // width, depth, resolution, dropout (TensorFlow's efficientnet_lite_builder).
  struct Row {
    const char* name;
    double width, depth;
    int64_t resolution;
    double dropout;
  };
  static constexpr Row kRows[] = {{"lite0", 1.0, 1.0, 224, 0.2}, {"lite1", 1.0, 1.1, 240, 0.2},
                                  {"lite2", 1.1, 1.2, 260, 0.3}, {"lite3", 1.2, 1.4, 280, 0.3},
                                  {"lite4", 1.4, 1.8, 300, 0.3}};
  for (const Row& r : kRows) {
    if (variant != r.name) continue;
    EfficientNetLiteConfig c;
    c.width_mult = r.width;
    c.depth_mult = r.depth;
    c.resolution = r.resolution;
    c.dropout = r.dropout;
    return c;
  }
  fail("EfficientNetLite", "unknown variant '", variant, "' (expected lite0 ... lite4)");
}

EfficientNetLite::EfficientNetLite(const EfficientNetLiteConfig& config, int64_t num_classes)
    : Module("EfficientNetLite") {
  EMBER_CHECK(config.width_mult > 0 && config.depth_mult > 0, "EfficientNetLite",
              "width and depth multipliers must be positive, got ", config.width_mult, " and ", config.depth_mult);
  auto channels = [&](int64_t c) { return make_divisible(static_cast<double>(c) * config.width_mult, 8); };
  const size_t last = std::size(kEfficientNetB0Stages) - 1;
  // The first and last stages keep their depth, so that scaling does not
  // touch the layers next to the fixed-width stem and head.
  auto depth = [&](size_t stage) {
    const int64_t n = kEfficientNetB0Stages[stage].blocks;
    if (stage == 0 || stage == last) return n;
    return static_cast<int64_t>(std::ceil(static_cast<double>(n) * config.depth_mult));
  };
  int64_t total_blocks = 0;
  for (size_t s = 0; s <= last; ++s) total_blocks += depth(s);

  stem_ = register_module("_conv_stem", std::make_shared<Conv2dSame>(3, kStemChannels, 3, 2, 1, false));
  stem_norm_ = register_module("_bn0", std::make_shared<BatchNorm2d>(kStemChannels, tf_batch_norm()));
  auto blocks = std::make_shared<Sequential>();
  int64_t in = kStemChannels;
  for (size_t s = 0; s <= last; ++s) {
    const MBConvStage& spec = kEfficientNetB0Stages[s];
    const int64_t out = channels(spec.out);
    for (int64_t i = 0; i < depth(s); ++i) {
      const int64_t id = static_cast<int64_t>(blocks->size());
      const double drop = config.drop_connect * static_cast<double>(id) / static_cast<double>(total_blocks);
      blocks->add(std::make_shared<LiteMBConv>(in, out, spec.kernel, i == 0 ? spec.stride : 1,
                                               static_cast<int64_t>(spec.expand), drop));
      in = out;
    }
  }
  blocks_ = register_module("_blocks", blocks);
  head_ = register_module("_conv_head", std::make_shared<Conv2dSame>(in, kHeadChannels, 1, 1, 1, false));
  head_norm_ = register_module("_bn1", std::make_shared<BatchNorm2d>(kHeadChannels, tf_batch_norm()));
  pool_ = register_module("_avg_pooling", std::make_shared<AdaptiveAvgPool2d>(Pair{1, 1}));
  dropout_ = register_module("_dropout", std::make_shared<Dropout>(config.dropout));
  register_module("_fc", std::make_shared<Linear>(kHeadChannels, num_classes));
}

Tensor EfficientNetLite::forward(const Tensor& x) {
  Tensor h = norm_activation(*stem_norm_, FusedActivation::Relu6, (*stem_)(x));
  h = (*blocks_)(h);
  h = norm_activation(*head_norm_, FusedActivation::Relu6, (*head_)(h));
  h = (*pool_)(h).flatten(1);
  return (*child("_fc"))((*dropout_)(h));  // looked up here: fine-tuning may replace the head
}

}  // namespace ember
