#include "engine/ops/random_ops.h"

#include "engine/autograd/grad_mode.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/inplace.h"

namespace ember {
namespace {

Generator& pick(Generator* gen) { return gen ? *gen : default_generator(); }

Tensor floating_empty(const Shape& shape, const TensorOptions& options, const char* op) {
  EMBER_CHECK(is_floating(options.dtype), op, "needs a floating dtype, got ", dtype_name(options.dtype));
  return empty(shape, options.with_requires_grad(false));
}

Tensor finish(Tensor t, const TensorOptions& options) {
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}

}  // namespace

Tensor uniform(const Shape& shape, double low, double high, TensorOptions options, Generator* gen) {
  EMBER_CHECK(low <= high, "uniform", "low ", low, " must not exceed high ", high);
  Tensor t = floating_empty(shape, options, "uniform");
  uint64_t offset = pick(gen).next_offset();
  if (t.numel() > 0) backend(t.device()).random_uniform(t, low, high, pick(gen).seed(), offset);
  return finish(t, options);
}

Tensor normal(const Shape& shape, double mean, double std, TensorOptions options, Generator* gen) {
  EMBER_CHECK(std >= 0, "normal", "std must be non-negative, got ", std);
  Tensor t = floating_empty(shape, options, "normal");
  uint64_t offset = pick(gen).next_offset();
  if (t.numel() > 0) backend(t.device()).random_normal(t, mean, std, pick(gen).seed(), offset);
  return finish(t, options);
}

Tensor rand(const Shape& shape, TensorOptions options, Generator* gen) { return uniform(shape, 0.0, 1.0, options, gen); }
Tensor randn(const Shape& shape, TensorOptions options, Generator* gen) { return normal(shape, 0.0, 1.0, options, gen); }

Tensor bernoulli(const Shape& shape, double p, TensorOptions options, Generator* gen) {
  EMBER_CHECK(p >= 0.0 && p <= 1.0, "bernoulli", "probability must be in [0, 1], got ", p);
  Tensor t = floating_empty(shape, options, "bernoulli");
  uint64_t offset = pick(gen).next_offset();
  if (t.numel() > 0) backend(t.device()).random_bernoulli(t, p, pick(gen).seed(), offset);
  return t;
}

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  EMBER_CHECK(p >= 0.0 && p <= 1.0, "dropout", "probability must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, 0.0);
  Tensor mask = bernoulli(x.shape(), 1.0 - p, TensorOptions(x.dtype(), x.device()), gen);
  return mul(x, mul(mask, 1.0 / (1.0 - p)));
}

Tensor& Tensor::uniform_(double low, double high) {
  check_inplace(*this, Tensor(), "uniform_");
  Tensor fresh = uniform(shape(), low, high, TensorOptions(dtype(), device()));
  NoGradGuard no_grad;
  return copy_(fresh);
}

Tensor& Tensor::normal_(double mean, double std) {
  check_inplace(*this, Tensor(), "normal_");
  Tensor fresh = normal(shape(), mean, std, TensorOptions(dtype(), device()));
  NoGradGuard no_grad;
  return copy_(fresh);
}

}  // namespace ember
