// Rules for in-place ops under autograd, shared by every op that writes into
// an existing tensor (copy_, fill_, add_, relu_, ...).
#pragma once

#include <vector>

#include "engine/autograd/node.h"

namespace ember {

// Throws if writing into `self` would break autograd: `self` is a leaf that
// requires grad, or a view while a gradient would have to flow through it.
// `other` is the op's other input (may be undefined).
void check_inplace(const Tensor& self, const Tensor& other, const char* op);

// Records an in-place op: the node's inputs are self's previous value
// (index 0) and `others`; self becomes the node's output.
void record_inplace(const char* name, const Tensor& self, const std::vector<Tensor>& others, BackwardFn fn);

}  // namespace ember
