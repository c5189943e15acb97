// Tensor: a shaped, strided view of a Storage, plus its autograd state.
//
// A Tensor is a handle: copying it shares the data, as in PyTorch. Views
// (view, reshape, permute, transpose, narrow, select, squeeze, unsqueeze,
// expand) share the storage and differ only in offset, shape and strides.
// Ops are free functions (engine/ops/*.h); the methods here are the ones a
// reader expects on the object itself. Every method that can fail throws
// ember::Error naming the method and the shapes.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/memory_format.h"
#include "engine/scalar.h"
#include "engine/shape.h"
#include "engine/storage.h"

namespace ember {

class Node;
struct TensorImpl;

struct AutogradMeta {
  bool requires_grad = false;
  bool retains_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<Node> grad_fn;         // null for leaves
  std::weak_ptr<Node> grad_accumulator;  // leaves: the node that adds into .grad
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;  // in elements
  DType dtype = DType::Float32;
  bool is_view = false;  // shares its storage with the tensor it was made from
  std::unique_ptr<AutogradMeta> autograd;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Shape& strides() const;
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t numel() const { return shape_numel(shape()); }
  int64_t offset() const;
  DType dtype() const;
  Device device() const;
  bool is_contiguous() const;
  // Dense in `format`'s layout (engine/memory_format.h); Contiguous is is_contiguous().
  bool is_contiguous(MemoryFormat format) const;
  bool is_floating_point() const { return is_floating(dtype()); }
  size_t element_size() const { return dtype_size(dtype()); }

  // Pointer to the first element (storage base + offset).
  void* data_ptr() const;
  // Typed pointer; throws if T does not match dtype().
  template <class T>
  T* data() const {
    check_dtype(dtype_of<T>::value, "data");
    return static_cast<T*>(data_ptr());
  }
  const std::shared_ptr<Storage>& storage() const;
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  // True when both handles refer to the same TensorImpl (the same tensor object).
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

  // --- Views (share storage; differentiable) ---
  Tensor view(const Shape& shape) const;
  Tensor reshape(const Shape& shape) const;
  Tensor permute(const Shape& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;  // 2-D transpose
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;
  Tensor expand_as(const Tensor& other) const { return expand(other.shape()); }
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;

  // --- Copies ---
  Tensor contiguous() const;
  // This tensor if it is already dense in `format`, else a copy laid out so
  // (differentiable): x.contiguous(MemoryFormat::ChannelsLast) makes NHWC.
  Tensor contiguous(MemoryFormat format) const;
  // A copy; Preserve keeps a channels-last layout, as torch.clone does.
  Tensor clone(MemoryFormat format = MemoryFormat::Preserve) const;
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor to(Device device, DType dtype) const;
  Tensor cpu() const { return to(kCPU); }
  Tensor cuda(int index = 0) const { return to(Device(DeviceType::CUDA, index)); }

  // The single value of a one-element tensor, converted to T.
  template <class T = double>
  T item() const;
  // All values in row-major order, converted to T.
  template <class T>
  std::vector<T> to_vector() const;

  // --- Autograd ---
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);
  Tensor grad() const;
  void set_grad(const Tensor& grad) const;
  void zero_grad() const;  // drops .grad (PyTorch's set_to_none)
  std::shared_ptr<Node> grad_fn() const;
  bool is_leaf() const { return grad_fn() == nullptr; }
  Tensor detach() const;
  void retain_grad() const;
  // Backpropagates from this tensor. `grad` may be omitted for one-element
  // tensors (it is then 1). The graph is freed unless retain_graph.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;

  // --- In-place (bump the version counter) ---
  Tensor& zero_();
  Tensor& fill_(Scalar value);
  Tensor& copy_(const Tensor& src);  // broadcasts src, converts dtype and device
  Tensor& add_(const Tensor& other, Scalar alpha = 1);
  Tensor& add_(Scalar other);
  Tensor& sub_(const Tensor& other, Scalar alpha = 1);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(Scalar other);
  Tensor& div_(const Tensor& other);
  Tensor& div_(Scalar other);
  Tensor& clamp_(Scalar min, Scalar max);
  Tensor& relu_();
  Tensor& uniform_(double low = 0.0, double high = 1.0);
  Tensor& normal_(double mean = 0.0, double std = 1.0);
  uint64_t version() const { return storage()->version(); }
  // Makes this tensor object refer to `src`'s data (storage, geometry, dtype)
  // while keeping its identity and requires_grad: how a Module moves its
  // parameters to another device in place (PyTorch's `param.data = ...`).
  // The gradient is dropped when the device or dtype changes.
  void set_data(const Tensor& src) const;

  // PyTorch-like text: tensor([[1.0000, 2.0000]], requires_grad=True)
  std::string str() const;

  // Throws "op: expected <want>, got <have> tensor" when dtypes differ.
  void check_dtype(DType want, const char* op) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// --- Factories (engine/tensor_factory.cpp) ---
struct TensorOptions {
  DType dtype = DType::Float32;
  Device device = kCPU;
  bool requires_grad = false;
  TensorOptions() = default;
  TensorOptions(DType t) : dtype(t) {}  // NOLINT
  TensorOptions(Device d) : device(d) {}  // NOLINT
  TensorOptions(DType t, Device d) : dtype(t), device(d) {}
  TensorOptions with_dtype(DType t) const { auto o = *this; o.dtype = t; return o; }
  TensorOptions with_device(Device d) const { auto o = *this; o.device = d; return o; }
  TensorOptions with_requires_grad(bool r) const { auto o = *this; o.requires_grad = r; return o; }
};

Tensor empty(const Shape& shape, TensorOptions options = {});
// A 4-D tensor laid out in `format` (Contiguous or ChannelsLast).
Tensor empty(const Shape& shape, TensorOptions options, MemoryFormat format);
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, Scalar value, TensorOptions options = {});
// The *_like factories keep a channels-last source's layout (torch's preserve_format).
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, Scalar value);
// [start, end) in steps; dtype int64 when all three are integers, else float32 (as torch).
Tensor arange(Scalar end, TensorOptions options = {});
Tensor arange(Scalar start, Scalar end, Scalar step = 1, TensorOptions options = {});
Tensor arange_typed(Scalar start, Scalar end, Scalar step, TensorOptions options);
// A 0-d tensor holding one value.
Tensor scalar_tensor(Scalar value, TensorOptions options = {});
// Copies host values (row-major) into a new tensor of `shape` whose dtype is T's.
template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device = kCPU);
Tensor from_blob_copy(const void* data, const Shape& shape, DType dtype, Device device = kCPU);
// Wraps existing contiguous memory without copying; `release` frees it.
Tensor from_blob(void* data, const Shape& shape, DType dtype, Device device,
                 std::function<void(void*)> release);

// A contiguous copy of CPU tensor `t` in page-locked (pinned) host memory,
// from which copies to a CUDA device run asynchronously; without a CUDA
// device it returns `t` unchanged.
Tensor pin_memory(const Tensor& t);
bool is_pinned(const Tensor& t);
// An uninitialised contiguous CPU tensor in page-locked memory (plain memory
// where there is no CUDA device), to be filled in place: pin_memory of a
// tensor made elsewhere costs one more copy.
Tensor empty_pinned(const Shape& shape, DType dtype);

// A tensor viewing `base`'s storage with the given geometry (no autograd).
Tensor make_view(const Tensor& base, int64_t offset, const Shape& shape, const Shape& strides);

// Records that `t`'s storage was written in place (autograd's version check).
void mark_written(const Tensor& t);

}  // namespace ember
