// backward(): runs the recorded graph from one or more roots to the leaves.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace ember {

// Backpropagates from `roots`, seeding each with the matching entry of
// `grads` (undefined: 1 for a one-element root). Leaves that require grad
// get their .grad accumulated. Saved tensors are freed unless retain_graph.
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph = false);

// Returns d(sum(roots * grads))/d(inputs) without touching any .grad
// (torch.autograd.grad, first order).
std::vector<Tensor> grad(const std::vector<Tensor>& roots, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grads = {}, bool retain_graph = false);

}  // namespace ember
