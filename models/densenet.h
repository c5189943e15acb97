// DenseNet-BC (Huang et al. 2016) as torchvision 0.14 builds it: densenet121,
// 161, 169, 201; parameter names features.conv0, features.denseblock1.
// denselayer1.norm1, features.transition1.conv, ..., features.norm5, classifier.
#pragma once

#include <vector>

#include "layers/layers.h"

namespace ember {

class DenseNet final : public Module {
 public:
  DenseNet(int64_t growth_rate, std::vector<int64_t> block_config, int64_t num_init_features, int64_t bn_size = 4,
           double drop_rate = 0.0, int64_t num_classes = 1000);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<Sequential> features_;
};

}  // namespace ember
