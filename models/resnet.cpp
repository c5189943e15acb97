#include "models/resnet.h"

#include "engine/ops/elementwise.h"
#include "layers/fusion.h"

namespace ember {
namespace {

// conv3x3-bn-relu-conv3x3-bn, plus the (optionally downsampled) input, relu.
class BasicBlock final : public Module {
 public:
  BasicBlock(int64_t in, int64_t planes, int64_t stride, ModulePtr downsample) : Module("BasicBlock") {
    conv1_ = register_module("conv1", make_conv2d(in, planes, 3, stride, 1, 1, false));
    bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
    relu_ = register_module("relu", make_relu());
    conv2_ = register_module("conv2", make_conv2d(planes, planes, 3, 1, 1, 1, false));
    bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
    if (downsample) downsample_ = register_module("downsample", downsample);
  }
  Tensor forward(const Tensor& x) override {
    const Tensor out = conv_norm_activation_forward(*conv1_, *bn1_, relu_.get(), x);
    return conv_norm_add_relu(*conv2_, *bn2_, *relu_, out, [&] { return downsample_ ? (*downsample_)(x) : x; });
  }

 private:
  ModulePtr conv1_, bn1_, relu_, conv2_, bn2_, downsample_;
};

// conv1x1-bn-relu-conv3x3(stride)-bn-relu-conv1x1-bn, plus the input, relu.
class Bottleneck final : public Module {
 public:
  Bottleneck(int64_t in, int64_t planes, int64_t stride, ModulePtr downsample) : Module("Bottleneck") {
    conv1_ = register_module("conv1", make_conv2d(in, planes, 1, 1, 0, 1, false));
    bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
    conv2_ = register_module("conv2", make_conv2d(planes, planes, 3, stride, 1, 1, false));
    bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
    conv3_ = register_module("conv3", make_conv2d(planes, planes * 4, 1, 1, 0, 1, false));
    bn3_ = register_module("bn3", std::make_shared<BatchNorm2d>(planes * 4));
    relu_ = register_module("relu", make_relu());
    if (downsample) downsample_ = register_module("downsample", downsample);
  }
  Tensor forward(const Tensor& x) override {
    Tensor out = conv_norm_activation_forward(*conv1_, *bn1_, relu_.get(), x);
    out = conv_norm_activation_forward(*conv2_, *bn2_, relu_.get(), out);
    return conv_norm_add_relu(*conv3_, *bn3_, *relu_, out, [&] { return downsample_ ? (*downsample_)(x) : x; });
  }

 private:
  ModulePtr conv1_, bn1_, conv2_, bn2_, conv3_, bn3_, relu_, downsample_;
};

}  // namespace

ResNet::ResNet(std::vector<int64_t> blocks, bool bottleneck, int64_t num_classes) : Module("ResNet") {
  const int64_t expansion = bottleneck ? 4 : 1;
  conv1_ = register_module("conv1", make_conv2d(3, 64, 7, 2, 3, 1, false));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(64));
  relu_ = register_module("relu", make_relu());
  maxpool_ = register_module("maxpool", std::make_shared<MaxPool2d>(Pair{3, 3}, Pair{2, 2}, Pair{1, 1}));
  int64_t in = 64;
  const int64_t planes[4] = {64, 128, 256, 512};
  for (int s = 0; s < 4; ++s) {
    auto stage = std::make_shared<Sequential>();
    int64_t stride = s == 0 ? 1 : 2;
    for (int64_t b = 0; b < blocks[static_cast<size_t>(s)]; ++b) {
      int64_t block_stride = b == 0 ? stride : 1;
      ModulePtr downsample;
      if (b == 0 && (stride != 1 || in != planes[s] * expansion)) {
        downsample = std::make_shared<Sequential>(std::vector<ModulePtr>{
            make_conv2d(in, planes[s] * expansion, 1, stride, 0, 1, false),
            std::make_shared<BatchNorm2d>(planes[s] * expansion)});
      }
      if (bottleneck) {
        stage->add(std::make_shared<Bottleneck>(in, planes[s], block_stride, downsample));
      } else {
        stage->add(std::make_shared<BasicBlock>(in, planes[s], block_stride, downsample));
      }
      in = planes[s] * expansion;
    }
    stages_.push_back(register_module("layer" + std::to_string(s + 1), stage));
  }
  avgpool_ = register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(Pair{1, 1}));
  register_module("fc", std::make_shared<Linear>(512 * expansion, num_classes));
  // torchvision's init: He-normal (fan_out, relu) for convolutions, BN weight 1 and bias 0.
  apply([](Module& m) {
    if (auto* c = dynamic_cast<Conv2d*>(&m)) init::kaiming_normal_(c->weight, 0.0, "fan_out", "relu");
  });
}

Tensor ResNet::forward(const Tensor& x) {
  Tensor h = (*maxpool_)(conv_norm_activation_forward(*conv1_, *bn1_, relu_.get(), x));
  for (auto& stage : stages_) h = (*stage)(h);
  h = (*avgpool_)(h).flatten(1);
  return (*child("fc"))(h);
}

}  // namespace ember
