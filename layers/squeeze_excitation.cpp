#include "layers/squeeze_excitation.h"

#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/random_ops.h"
#include "layers/pooling.h"

namespace ember {

SqueezeExcitation::SqueezeExcitation(int64_t input, int64_t squeeze, ActivationFactory activation,
                                     ActivationFactory scale_activation)
    : Module("SqueezeExcitation") {
  avgpool_ = register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(Pair{1, 1}));
  fc1_ = register_module("fc1", make_conv2d(input, squeeze, 1));
  fc2_ = register_module("fc2", make_conv2d(squeeze, input, 1));
  activation_ = register_module("activation", activation());
  scale_activation_ = register_module("scale_activation", scale_activation());
}

Tensor SqueezeExcitation::forward(const Tensor& x) {
  Tensor s = (*avgpool_)(x);
  s = (*scale_activation_)((*fc2_)((*activation_)((*fc1_)(s))));
  return mul(x, s);
}

StochasticDepth::StochasticDepth(double prob, std::string m) : Module("StochasticDepth"), p(prob), mode(std::move(m)) {
  EMBER_CHECK(p >= 0.0 && p <= 1.0, "StochasticDepth", "drop probability must be in [0, 1], got ", p);
  EMBER_CHECK(mode == "row" || mode == "batch", "StochasticDepth", "mode must be 'row' or 'batch', got '", mode, "'");
}

Tensor StochasticDepth::forward(const Tensor& x) {
  if (!is_training() || p == 0.0) return x;
  double survival = 1.0 - p;
  Shape noise_shape(x.dim(), 1);
  if (mode == "row") noise_shape[0] = x.size(0);
  Tensor noise = bernoulli(noise_shape, survival, TensorOptions(x.dtype(), x.device()));
  if (survival > 0.0) noise = div(noise, survival);
  return mul(x, noise);
}

std::string StochasticDepth::extra_repr() const { return cat_str("p=", p, ", mode=", mode); }

}  // namespace ember
