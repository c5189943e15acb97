// Reductions over any set of dims (empty = all), with keepdim, and the
// argmax/argmin family. Integer and bool sums accumulate into int64, as in
// PyTorch; mean, var and std need floating tensors.
#pragma once

#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace ember {

using Dims = std::vector<int64_t>;

Tensor sum(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
// Variance with Bessel's `correction` (1: unbiased, 0: population).
Tensor var(const Tensor& x, const Dims& dims = {}, int64_t correction = 1, bool keepdim = false);
Tensor std_dev(const Tensor& x, const Dims& dims = {}, int64_t correction = 1, bool keepdim = false);  // torch.std
// Largest / smallest value over dims; ties share the gradient evenly (torch.amax).
Tensor amax(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
// Max/min over all elements (torch.max(x)).
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);
// Max/min along one dim: (values, int64 indices of the first extreme).
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x);  // over the flattened tensor
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);
// Euclidean norm over dims.
Tensor norm(const Tensor& x, const Dims& dims = {}, bool keepdim = false);

// Sums a broadcast gradient back to `shape` (the inverse of expand).
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace ember
