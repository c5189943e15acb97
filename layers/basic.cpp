#include "layers/basic.h"

#include "engine/error.h"
#include "engine/ops/random_ops.h"

namespace ember {

std::string Flatten::extra_repr() const { return cat_str("start_dim=", start_dim, ", end_dim=", end_dim); }

Dropout::Dropout(double prob) : Module("Dropout"), p(prob) {
  EMBER_CHECK(p >= 0.0 && p <= 1.0, "Dropout", "probability must be in [0, 1], got ", p);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training()); }

std::string Dropout::extra_repr() const { return cat_str("p=", p, ", inplace=False"); }

}  // namespace ember
