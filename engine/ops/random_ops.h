// Random tensors and dropout, drawn from a Generator (the default one unless
// given). See engine/random.h for how draws are made reproducible.
#pragma once

#include "engine/random.h"
#include "engine/tensor.h"

namespace ember {

Tensor rand(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);   // U[0, 1)
Tensor randn(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);  // N(0, 1)
Tensor uniform(const Shape& shape, double low, double high, TensorOptions options = {}, Generator* gen = nullptr);
Tensor normal(const Shape& shape, double mean, double std, TensorOptions options = {}, Generator* gen = nullptr);
// 1 with probability p, else 0, in options.dtype.
Tensor bernoulli(const Shape& shape, double p, TensorOptions options = {}, Generator* gen = nullptr);
// Zeroes each element with probability p and scales the rest by 1/(1-p)
// while training; the identity otherwise.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

}  // namespace ember
