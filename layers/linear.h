// nn.Linear: y = x W^T + b, weight [out_features, in_features].
#pragma once

#include "layers/module.h"

namespace ember {

class Linear final : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t in_features, out_features;
  Tensor weight, bias;
};

}  // namespace ember
