#include "layers/linear.h"

#include "engine/error.h"
#include "engine/ops/linalg.h"
#include "layers/init.h"

namespace ember {

Linear::Linear(int64_t in, int64_t out, bool has_bias) : Module("Linear"), in_features(in), out_features(out) {
  EMBER_CHECK(in > 0 && out > 0, "Linear", "features must be positive, got ", in, " -> ", out);
  weight = register_parameter("weight", empty({out, in}));
  if (has_bias) bias = register_parameter("bias", empty({out}));
  init::default_layer_init(weight, bias);
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

std::string Linear::extra_repr() const {
  return cat_str("in_features=", in_features, ", out_features=", out_features, ", bias=",
                 bias.defined() ? "True" : "False");
}

}  // namespace ember
