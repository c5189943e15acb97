#include "engine/ops/inplace.h"

#include "engine/autograd/grad_mode.h"
#include "engine/error.h"

namespace ember {

void check_inplace(const Tensor& self, const Tensor& other, const char* op) {
  if (!grad_mode_enabled()) return;
  bool self_needs = self.requires_grad();
  bool other_needs = other.defined() && other.requires_grad();
  if (self_needs && self.is_leaf()) {
    fail(op, "a leaf tensor that requires grad (shape ", self.shape(),
         ") is used in an in-place operation; do it under NoGradGuard or use the out-of-place form");
  }
  if ((self_needs || other_needs) && self.impl()->is_view) {
    fail(op, "in-place operation on a view (shape ", self.shape(),
         ") while autograd is recording is not supported; use the out-of-place form");
  }
}

void record_inplace(const char* name, const Tensor& self, const std::vector<Tensor>& others, BackwardFn fn) {
  std::vector<Tensor> inputs;
  inputs.reserve(others.size() + 1);
  inputs.push_back(self);
  inputs.insert(inputs.end(), others.begin(), others.end());
  record(name, self, inputs, std::move(fn));
}

}  // namespace ember
