// Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d.
#pragma once

#include "engine/ops/pool.h"
#include "layers/module.h"

namespace ember {

class MaxPool2d final : public Module {
 public:
  // stride 0 means stride = kernel size (PyTorch's default).
  MaxPool2d(Pair kernel, Pair stride = {0, 0}, Pair padding = {0, 0}, Pair dilation = {1, 1}, bool ceil_mode = false);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Pair kernel, stride, padding, dilation;
  bool ceil_mode;
};

class AvgPool2d final : public Module {
 public:
  AvgPool2d(Pair kernel, Pair stride = {0, 0}, Pair padding = {0, 0}, bool ceil_mode = false,
            bool count_include_pad = true, int64_t divisor_override = 0);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Pair kernel, stride, padding;
  bool ceil_mode, count_include_pad;
  int64_t divisor_override;
};

class AdaptiveAvgPool2d final : public Module {
 public:
  explicit AdaptiveAvgPool2d(Pair output_size);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Pair output_size;
};

}  // namespace ember
