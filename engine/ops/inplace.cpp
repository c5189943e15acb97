#include "engine/ops/inplace.h"

#include <utility>

#include "engine/autograd/grad_mode.h"
#include "engine/error.h"

namespace ember {

namespace {

// The bytes [first, last) a tensor's elements span in its storage.
std::pair<int64_t, int64_t> byte_span(const Tensor& t) {
  int64_t lo = t.offset(), hi = t.offset();
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t reach = (t.size(d) - 1) * t.stride(d);
    (reach < 0 ? lo : hi) += reach;
  }
  const auto es = static_cast<int64_t>(dtype_size(t.dtype()));
  return {lo * es, (hi + 1) * es};
}

// Writing into `self` element by element is only well defined when no two
// of its elements share memory and `other` is either elsewhere or exactly
// self (x.add_(x)); otherwise the result depends on the order the kernel
// visits elements (x.div_(x[0]) on the GPU). PyTorch refuses both.
void check_no_overlap(const Tensor& self, const Tensor& other, const char* op) {
  if (self.numel() <= 1) return;
  for (int64_t d = 0; d < self.dim(); ++d) {
    EMBER_CHECK(self.stride(d) != 0 || self.size(d) == 1, op, "more than one element of the written-to tensor (shape ",
                self.shape(), ", strides ", self.strides(), ") refers to the same memory; clone() it first");
  }
  if (!other.defined() || other.numel() == 0 || other.impl()->storage != self.impl()->storage) return;
  if (other.offset() == self.offset() && other.shape() == self.shape() && other.strides() == self.strides() &&
      other.dtype() == self.dtype())
    return;
  const auto [s0, s1] = byte_span(self);
  const auto [o0, o1] = byte_span(other);
  EMBER_CHECK(s1 <= o0 || o1 <= s0, op, "the input (shape ", other.shape(), ") and the written-to tensor (shape ",
              self.shape(), ") partly share memory; clone() the input first");
}

}  // namespace

void check_inplace(const Tensor& self, const Tensor& other, const char* op) {
  check_no_overlap(self, other, op);
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
