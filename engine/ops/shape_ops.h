// Joining, splitting and padding tensors.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace ember {

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
// Pieces of `split_size` along dim (the last may be smaller); views.
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
// Pieces of the given sizes, which must add up to the dim's size; views.
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
// `chunks` pieces of ceil(size / chunks) (fewer if the size runs out); views.
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);
// Constant padding as torch.nn.functional.pad: `pads` lists (before, after)
// pairs starting from the last dim; negative values crop.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, Scalar value = 0);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);

}  // namespace ember
