// The CIFAR-10 ResNets of He et al. 2015 (section 4.2): a 3x3 conv to 16
// channels, three stages of n basic blocks with 16, 32 and 64 channels
// (stride 2 at the start of stages 2 and 3), global average pooling and a
// linear layer: depth 6n + 2 (resnet20, 32, 44, 56, 110). Shortcuts are
// "option A": the identity, or, where the shape changes, the input
// subsampled by 2 and zero-padded with planes/4 channels on each side, so
// they have no parameters. Parameter names as the widely used checkpoints of
// akamaster/pytorch_resnet_cifar10 (after stripping DataParallel's "module."):
// conv1.weight, bn1.*, layer1.0.conv1.weight, layer1.0.bn1.*, ..., linear.weight.
#pragma once

#include <vector>

#include "layers/layers.h"

namespace ember {

class CifarResNet final : public Module {
 public:
  // depth: 6n + 2 (20, 32, 44, 56, 110, ...).
  explicit CifarResNet(int64_t depth, int64_t num_classes = 10);
  Tensor forward(const Tensor& x) override;

 private:
  ModulePtr conv1_, bn1_, relu_, avgpool_;
  std::vector<ModulePtr> stages_;
};

}  // namespace ember
