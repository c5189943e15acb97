// ResNet (He et al. 2015) as torchvision 0.14 builds it: resnet18/34 with
// BasicBlock, resnet50/101/152 with Bottleneck; parameter names
// conv1, bn1, layer1.0.conv1, ..., layer4.2.downsample.0, fc.
#pragma once

#include <vector>

#include "layers/layers.h"

namespace ember {

class ResNet final : public Module {
 public:
  // blocks: blocks per stage ({2,2,2,2} for resnet18); bottleneck: the
  // 1x1-3x3-1x1 block (expansion 4) instead of the basic 3x3-3x3 block.
  ResNet(std::vector<int64_t> blocks, bool bottleneck, int64_t num_classes = 1000);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<Conv2d> conv1_;
  std::shared_ptr<BatchNorm2d> bn1_;
  ModulePtr relu_, maxpool_, avgpool_;
  std::vector<std::shared_ptr<Sequential>> stages_;
};

}  // namespace ember
