#include "models/densenet.h"

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/pool.h"
#include "engine/ops/random_ops.h"
#include "engine/ops/shape_ops.h"
#include "layers/fusion.h"

namespace ember {
namespace {

// BN-ReLU-conv1x1 (to bn_size * growth channels), BN-ReLU-conv3x3 (to growth
// channels), applied to the concatenation of every earlier feature map.
class DenseLayer final : public Module {
 public:
  DenseLayer(int64_t in, int64_t growth, int64_t bn_size, double drop_rate) : Module("_DenseLayer"), drop_rate_(drop_rate) {
    norm1_ = register_module("norm1", std::make_shared<BatchNorm2d>(in));
    relu1_ = register_module("relu1", make_relu());
    conv1_ = register_module("conv1", make_conv2d(in, bn_size * growth, 1, 1, 0, 1, false));
    norm2_ = register_module("norm2", std::make_shared<BatchNorm2d>(bn_size * growth));
    relu2_ = register_module("relu2", make_relu());
    conv2_ = register_module("conv2", make_conv2d(bn_size * growth, growth, 3, 1, 1, 1, false));
  }
  Tensor forward(const Tensor& x) override {
    // norm1 to relu2 are one op in inference: norm1 and relu1 applied as
    // conv1's product reads its input, norm2 and relu2 to each block of
    // conv1's output while it is in cache.
    Tensor h = norm_activation_conv_norm_activation_forward(*norm1_, *relu1_, *conv1_, *norm2_, relu2_.get(), x);
    h = (*conv2_)(h);
    return drop_rate_ > 0 ? dropout(h, drop_rate_, is_training()) : h;
  }

 private:
  double drop_rate_;
  ModulePtr norm1_, relu1_, conv1_, norm2_, relu2_, conv2_;
};

// Each layer sees the concatenation of the block's input and all earlier
// layers' outputs; the block returns the concatenation of all of them.
class DenseBlock final : public Module {
 public:
  DenseBlock(int64_t layers, int64_t in, int64_t bn_size, int64_t growth, double drop_rate)
      : Module("_DenseBlock"), in_(in), growth_(growth) {
    for (int64_t i = 0; i < layers; ++i) {
      layers_.push_back(register_module("denselayer" + std::to_string(i + 1),
                                        std::make_shared<DenseLayer>(in + i * growth, growth, bn_size, drop_rate)));
    }
  }
  Tensor forward(const Tensor& x) override {
    if (grows_in_place(x)) {
      // Without a graph to record, the block's output is allocated once and
      // each layer's new channels are copied into it: a layer's input is the
      // first channels of that tensor (contiguous for one NCHW image). A
      // concatenation per layer copies every earlier feature map again each
      // time (6% of DenseNet-121's inference at batch 1).
      const int64_t total = in_ + static_cast<int64_t>(layers_.size()) * growth_;
      Tensor out = empty({x.size(0), total, x.size(2), x.size(3)}, TensorOptions(x.dtype(), x.device()));
      out.narrow(1, 0, in_).copy_(x);
      int64_t channels = in_;
      for (auto& layer : layers_) {
        out.narrow(1, channels, growth_).copy_((*layer)(out.narrow(1, 0, channels)));
        channels += growth_;
      }
      return out;
    }
    std::vector<Tensor> features{x};
    for (auto& layer : layers_) features.push_back((*layer)(cat(features, 1)));
    return cat(features, 1);
  }

 private:
  // Growing one tensor in place is for inference: with a gradient to record
  // the layers keep their concatenations (autograd sees ordinary ops), and a
  // channels-last input keeps its layout through cat.
  bool grows_in_place(const Tensor& x) const {
    if (x.dim() != 4 || x.size(1) != in_ || !x.is_contiguous()) return false;
    if (!grad_mode_enabled()) return true;
    return !x.requires_grad() && !any_requires_grad(parameters());
  }

  int64_t in_, growth_;
  std::vector<ModulePtr> layers_;
};

// BN-ReLU-conv1x1-avgpool2x2 between blocks (named norm, relu, conv, pool,
// as in torchvision), run as BN-ReLU-avgpool-conv: a 1x1 convolution without
// bias and a 2x2 average pooling are both linear, one across channels, the
// other across pixels, so they commute (an odd last row or column is
// dropped either way), and pooling first leaves the convolution a quarter
// of the pixels. The three transitions' convolutions were a fifth of
// DenseNet-121's flops. Results equal torchvision's to rounding (the sums
// are taken in another order); a model summary lists pool before conv.
class Transition final : public Sequential {
 public:
  Transition(int64_t in, int64_t out) : Sequential("_Transition") {
    add("norm", std::make_shared<BatchNorm2d>(in));
    add("relu", make_relu());
    add("conv", make_conv2d(in, out, 1, 1, 0, 1, false));
    add("pool", std::make_shared<AvgPool2d>(Pair{2, 2}, Pair{2, 2}));
  }
  Tensor forward(const Tensor& x) override {
    const Tensor h = norm_activation(*child("norm"), *child("relu"), x);
    return (*child("conv"))((*child("pool"))(h));
  }
};

}  // namespace

DenseNet::DenseNet(int64_t growth, std::vector<int64_t> block_config, int64_t init_features, int64_t bn_size,
                   double drop_rate, int64_t num_classes)
    : Module("DenseNet") {
  features_ = register_module("features", std::make_shared<Sequential>());
  features_->add("conv0", make_conv2d(3, init_features, 7, 2, 3, 1, false));
  features_->add("norm0", std::make_shared<BatchNorm2d>(init_features));
  features_->add("relu0", make_relu());
  features_->add("pool0", std::make_shared<MaxPool2d>(Pair{3, 3}, Pair{2, 2}, Pair{1, 1}));
  int64_t channels = init_features;
  for (size_t i = 0; i < block_config.size(); ++i) {
    int64_t n = block_config[i];
    features_->add("denseblock" + std::to_string(i + 1),
                   std::make_shared<DenseBlock>(n, channels, bn_size, growth, drop_rate));
    channels += n * growth;
    if (i + 1 != block_config.size()) {
      features_->add("transition" + std::to_string(i + 1), std::make_shared<Transition>(channels, channels / 2));
      channels /= 2;
    }
  }
  features_->add("norm5", std::make_shared<BatchNorm2d>(channels));
  auto classifier = std::make_shared<Linear>(channels, num_classes);
  register_module("classifier", classifier);
  // torchvision's init: He-normal (fan_in) convolutions, BN 1/0, classifier bias 0.
  apply([](Module& m) {
    if (auto* c = dynamic_cast<Conv2d*>(&m)) init::kaiming_normal_(c->weight);
  });
  init::zeros_(classifier->bias);
}

Tensor DenseNet::forward(const Tensor& x) {
  Tensor h = relu((*features_)(x));
  h = adaptive_avg_pool2d(h, {1, 1}).flatten(1);
  return (*child("classifier"))(h);
}

}  // namespace ember
