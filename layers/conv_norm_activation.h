// torchvision.ops.Conv2dNormActivation: Sequential(conv, batch norm,
// activation) named "0", "1", "2", with padding (k-1)/2*dilation and no conv
// bias when a norm follows — the unit MobileNet and EfficientNet stack.
#pragma once

#include "layers/activation.h"
#include "layers/batch_norm2d.h"
#include "layers/sequential.h"

namespace ember {

struct ConvNormActivationOptions {
  int64_t stride = 1;
  int64_t groups = 1;
  int64_t dilation = 1;
  BatchNormOptions norm;                  // eps, momentum of the batch norm
  ActivationFactory activation = make_relu;  // null: no activation
};

std::shared_ptr<Sequential> conv_norm_activation(int64_t in, int64_t out, int64_t kernel,
                                                 ConvNormActivationOptions options = {});

}  // namespace ember
