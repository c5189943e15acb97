#include "models/cifar_resnet.h"

#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/shape_ops.h"
#include "layers/fusion.h"

namespace ember {
namespace {

// Option A: keep every second row and column, then add `pad` zero channels
// before and after (16 -> 32 channels: 8 + 16 + 8).
class SubsamplePadShortcut final : public Module {
 public:
  explicit SubsamplePadShortcut(int64_t pad) : Module("SubsamplePadShortcut"), pad_(pad) {}
  Tensor forward(const Tensor& x) override {
    Tensor sub = x.slice(2, 0, x.size(2), 2).slice(3, 0, x.size(3), 2);
    return pad(sub, {0, 0, 0, 0, pad_, pad_});
  }
  std::string extra_repr() const override { return cat_str("stride=2, pad_channels=", pad_); }

 private:
  int64_t pad_;
};

// conv3x3(stride)-bn-relu-conv3x3-bn, plus the shortcut, relu.
class BasicBlock final : public Module {
 public:
  BasicBlock(int64_t in, int64_t planes, int64_t stride) : Module("BasicBlock") {
    conv1_ = register_module("conv1", make_conv2d(in, planes, 3, stride, 1, 1, false));
    bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
    conv2_ = register_module("conv2", make_conv2d(planes, planes, 3, 1, 1, 1, false));
    bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
    if (stride != 1 || in != planes) {
      EMBER_CHECK(stride == 2 && planes == 2 * in, "CifarResNet",
                  "option-A shortcuts only double the channels at stride 2, got ", in, " -> ", planes, " at stride ",
                  stride);
      shortcut_ = register_module("shortcut", std::make_shared<SubsamplePadShortcut>(planes / 4));
    } else {
      shortcut_ = register_module("shortcut", std::make_shared<Identity>());
    }
    relu_ = register_module("relu", make_relu());
  }
  Tensor forward(const Tensor& x) override {
    const Tensor out = conv_norm_activation_forward(*conv1_, *bn1_, relu_.get(), x);
    return conv_norm_add_relu(*conv2_, *bn2_, *relu_, out, [&] { return (*shortcut_)(x); });
  }

 private:
  ModulePtr conv1_, bn1_, conv2_, bn2_, shortcut_, relu_;
};

}  // namespace

CifarResNet::CifarResNet(int64_t depth, int64_t num_classes) : Module("CifarResNet") {
  EMBER_CHECK(depth >= 8 && (depth - 2) % 6 == 0, "CifarResNet", "depth must be 6n + 2 (20, 32, 44, 56, 110), got ",
              depth);
  const int64_t n = (depth - 2) / 6;
  conv1_ = register_module("conv1", make_conv2d(3, 16, 3, 1, 1, 1, false));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(16));
  relu_ = register_module("relu", make_relu());
  int64_t in = 16;
  const int64_t planes[3] = {16, 32, 64};
  for (int s = 0; s < 3; ++s) {
    auto stage = std::make_shared<Sequential>();
    for (int64_t b = 0; b < n; ++b) {
      stage->add(std::make_shared<BasicBlock>(in, planes[s], b == 0 && s > 0 ? 2 : 1));
      in = planes[s];
    }
    stages_.push_back(register_module("layer" + std::to_string(s + 1), stage));
  }
  avgpool_ = register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(Pair{1, 1}));
  register_module("linear", std::make_shared<Linear>(64, num_classes));
  // The reference code's init: He-normal (fan_in) for convolutions and the
  // linear weight; the linear bias keeps PyTorch's default.
  apply([](Module& m) {
    if (auto* c = dynamic_cast<Conv2d*>(&m)) init::kaiming_normal_(c->weight);
    if (auto* l = dynamic_cast<Linear*>(&m)) init::kaiming_normal_(l->weight);
  });
}

Tensor CifarResNet::forward(const Tensor& x) {
  Tensor h = conv_norm_activation_forward(*conv1_, *bn1_, relu_.get(), x);
  for (auto& stage : stages_) h = (*stage)(h);
  // The reference pools with a kernel of the map's width (8 for 32x32
  // inputs); for square inputs that is this global average.
  h = (*avgpool_)(h).flatten(1);
  return (*child("linear"))(h);
}

}  // namespace ember
