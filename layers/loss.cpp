#include "layers/loss.h"

#include <limits>

#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linalg.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape_ops.h"

namespace ember {

Tensor BCEWithLogitsLoss::operator()(const Tensor& logits, const Tensor& target) const {
  Tensor t = target.dtype() == logits.dtype() ? target : target.to(logits.dtype());
  if (t.shape() != logits.shape() && t.numel() == logits.numel()) t = t.reshape(logits.shape());
  return binary_cross_entropy_with_logits(logits, t, weight, pos_weight, reduction);
}

Tensor nt_xent_loss(const Tensor& z1, const Tensor& z2, double temperature) {
  EMBER_CHECK(z1.dim() == 2 && z1.shape() == z2.shape(), "nt_xent_loss", "expected two [N, D] embeddings of one shape, got ",
              z1.shape(), " and ", z2.shape());
  EMBER_CHECK(temperature > 0, "nt_xent_loss", "temperature must be positive, got ", temperature);
  const int64_t n = z1.size(0);
  Tensor z = cat({z1, z2}, 0);
  Tensor unit = div(z, clamp_min(norm(z, {1}, true), 1e-12));
  Tensor sim = div(matmul(unit, unit.t()), temperature);
  // A sample is not its own negative: its self-similarity must not enter the softmax.
  Tensor eye = eq(arange(0, 2 * n, 1, TensorOptions(DType::Int64, z.device())).reshape({-1, 1}),
                  arange(0, 2 * n, 1, TensorOptions(DType::Int64, z.device())).reshape({1, -1}));
  sim = masked_fill(sim, eye, -std::numeric_limits<double>::infinity());
  Tensor target = add(arange(0, 2 * n, 1, TensorOptions(DType::Int64, z.device())), n);
  target = where(ge(target, 2 * n), sub(target, 2 * n), target);  // i -> i + N, i + N -> i
  return cross_entropy(sim, target);
}

std::unique_ptr<Loss> make_loss(const std::string& name, double label_smoothing) {
  if (name == "cross_entropy") return std::make_unique<CrossEntropyLoss>(Tensor(), label_smoothing);
  if (name == "nll") return std::make_unique<NLLLoss>();
  if (name == "bce_with_logits" || name == "bce") return std::make_unique<BCEWithLogitsLoss>();
  if (name == "mse") return std::make_unique<MSELoss>();
  if (name == "l1") return std::make_unique<L1Loss>();
  fail("loss", "unknown loss '", name, "' (expected cross_entropy, nll, bce_with_logits, mse, l1)");
}

}  // namespace ember
