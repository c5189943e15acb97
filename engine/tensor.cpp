// Tensor accessors and autograd state. Views are in tensor_views.cpp, copies
// and conversions in tensor_copy.cpp, factories in tensor_factory.cpp.
#include "engine/tensor.h"

#include "engine/autograd/engine.h"
#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/error.h"

namespace ember {

namespace {
const TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl) {
  if (!impl) fail("tensor", "use of an undefined tensor");
  return *impl;
}
}  // namespace

const Shape& Tensor::shape() const { return checked(impl_).shape; }
const Shape& Tensor::strides() const { return checked(impl_).strides; }
int64_t Tensor::offset() const { return checked(impl_).offset; }
DType Tensor::dtype() const { return checked(impl_).dtype; }
Device Tensor::device() const { return checked(impl_).storage->device(); }
const std::shared_ptr<Storage>& Tensor::storage() const { return checked(impl_).storage; }

// wrap_dim lets a 0-d tensor take dim 0 and -1 (for reductions, as PyTorch
// does), but a 0-d tensor has no size or stride to return.
int64_t Tensor::size(int64_t d) const {
  EMBER_CHECK(dim() > 0, "size", "a 0-d tensor has no dimensions (asked for dim ", d, ")");
  return shape()[wrap_dim(d, dim(), "size")];
}
int64_t Tensor::stride(int64_t d) const {
  EMBER_CHECK(dim() > 0, "stride", "a 0-d tensor has no dimensions (asked for dim ", d, ")");
  return strides()[wrap_dim(d, dim(), "stride")];
}

bool Tensor::is_contiguous() const {
  const TensorImpl& t = checked(impl_);
  int64_t expected = 1;
  for (size_t i = t.shape.size(); i-- > 0;) {
    if (t.shape[i] == 1) continue;
    if (t.strides[i] != expected) return false;
    expected *= t.shape[i];
  }
  return true;
}

void* Tensor::data_ptr() const {
  const TensorImpl& t = checked(impl_);
  return static_cast<char*>(t.storage->data()) + t.offset * static_cast<int64_t>(dtype_size(t.dtype));
}

void Tensor::check_dtype(DType want, const char* op) const {
  if (dtype() != want) fail(op, "expected a ", dtype_name(want), " tensor, got ", dtype_name(dtype()));
}

// --- Autograd state ---

bool Tensor::requires_grad() const {
  const TensorImpl& t = checked(impl_);
  return t.autograd && t.autograd->requires_grad;
}

Tensor& Tensor::requires_grad_(bool on) {
  TensorImpl& t = const_cast<TensorImpl&>(checked(impl_));
  if (on && !is_floating(t.dtype)) {
    fail("requires_grad_", "only floating-point tensors can require gradients, got ", dtype_name(t.dtype));
  }
  if (!on && t.autograd && t.autograd->grad_fn) {
    fail("requires_grad_", "cannot turn off requires_grad of a non-leaf tensor (shape ", t.shape,
         "); use detach()");
  }
  if (!t.autograd) t.autograd = std::make_unique<AutogradMeta>();
  t.autograd->requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const {
  const TensorImpl& t = checked(impl_);
  return t.autograd && t.autograd->grad ? Tensor(t.autograd->grad) : Tensor();
}

void Tensor::set_grad(const Tensor& grad) const {
  TensorImpl& t = const_cast<TensorImpl&>(checked(impl_));
  if (grad.defined()) {
    EMBER_CHECK(grad.shape() == t.shape, "set_grad", "gradient of shape ", grad.shape(),
                " does not match the tensor's shape ", t.shape);
    EMBER_CHECK(grad.device() == device(), "set_grad", "gradient on ", grad.device().str(), " for a tensor on ",
                device().str());
  }
  if (!t.autograd) t.autograd = std::make_unique<AutogradMeta>();
  t.autograd->grad = grad.defined() ? grad.impl_ptr() : nullptr;
}

void Tensor::zero_grad() const {
  if (impl_ && impl_->autograd) impl_->autograd->grad.reset();
}

std::shared_ptr<Node> Tensor::grad_fn() const {
  const TensorImpl& t = checked(impl_);
  return t.autograd ? t.autograd->grad_fn : nullptr;
}

Tensor Tensor::detach() const {
  const TensorImpl& t = checked(impl_);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.storage;
  impl->offset = t.offset;
  impl->shape = t.shape;
  impl->strides = t.strides;
  impl->dtype = t.dtype;
  impl->is_view = true;
  return Tensor(std::move(impl));
}

void Tensor::retain_grad() const {
  EMBER_CHECK(requires_grad(), "retain_grad", "the tensor does not require grad");
  std::shared_ptr<Node> fn = grad_fn();
  if (!fn) return;  // leaves keep their grad anyway
  impl_->autograd->retains_grad = true;
  fn->retained = impl_;
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  ember::backward({*this}, {grad}, retain_graph);
}

void Tensor::set_data(const Tensor& src) const {
  TensorImpl& t = const_cast<TensorImpl&>(checked(impl_));
  EMBER_CHECK(src.defined(), "set_data", "source tensor is undefined");
  EMBER_CHECK(!t.autograd || !t.autograd->requires_grad || is_floating(src.dtype()), "set_data",
              "a tensor that requires grad cannot take ", dtype_name(src.dtype()), " data");
  bool moved = src.device() != device() || src.dtype() != t.dtype;
  t.storage = src.storage();
  t.offset = src.offset();
  t.shape = src.shape();
  t.strides = src.strides();
  t.dtype = src.dtype();
  if (moved && t.autograd) t.autograd->grad.reset();
}

Tensor make_view(const Tensor& base, int64_t offset, const Shape& shape, const Shape& strides) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->offset = offset;
  impl->shape = shape;
  impl->strides = strides;
  impl->dtype = base.dtype();
  impl->is_view = true;
  return Tensor(std::move(impl));
}

void mark_written(const Tensor& t) { t.storage()->bump_version(); }

}  // namespace ember
