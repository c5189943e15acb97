// Creating tensors: uninitialised, constant, ranges and from host memory.
#include <cmath>
#include <cstring>

#include "engine/backend.h"
#include "engine/error.h"
#include "engine/tensor.h"

namespace ember {

Tensor empty(const Shape& shape, TensorOptions options) {
  for (int64_t s : shape) EMBER_CHECK(s >= 0, "empty", "negative size in shape ", shape);
  auto impl = std::make_shared<TensorImpl>();
  size_t nbytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(options.dtype);
  impl->storage = std::make_shared<Storage>(nbytes, options.device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = options.dtype;
  Tensor t(std::move(impl));
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor empty(const Shape& shape, TensorOptions options, MemoryFormat format) {
  Tensor t = empty(shape, options);
  if (format == MemoryFormat::ChannelsLast) t.impl()->strides = channels_last_strides(shape);
  else EMBER_CHECK(format == MemoryFormat::Contiguous, "empty", "needs a layout (contiguous or channels_last), got ",
                   memory_format_name(format));
  return t;
}

Tensor full(const Shape& shape, Scalar value, TensorOptions options) {
  bool wants_grad = options.requires_grad;
  Tensor t = empty(shape, options.with_requires_grad(false));
  if (t.numel() > 0) backend(options.device).fill(t, value);
  if (wants_grad) t.requires_grad_(true);
  return t;
}

Tensor zeros(const Shape& shape, TensorOptions options) { return full(shape, 0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return full(shape, 1, options); }
Tensor empty_like(const Tensor& t) {
  return empty(t.shape(), TensorOptions(t.dtype(), t.device()), suggest_memory_format(t));
}
Tensor full_like(const Tensor& t, Scalar v) {
  Tensor out = empty_like(t);
  if (out.numel() > 0) backend(t.device()).fill(out, v);
  return out;
}
Tensor zeros_like(const Tensor& t) { return full_like(t, 0); }
Tensor ones_like(const Tensor& t) { return full_like(t, 1); }

Tensor scalar_tensor(Scalar value, TensorOptions options) { return full({}, value, options); }

Tensor arange_typed(Scalar start, Scalar end, Scalar step, TensorOptions options) {
  double s = start.to_double(), e = end.to_double(), st = step.to_double();
  EMBER_CHECK(st != 0, "arange", "step must be nonzero");
  EMBER_CHECK((st > 0 && e >= s) || (st < 0 && e <= s), "arange", "the range from ", s, " to ", e,
              " is inconsistent with step ", st);
  auto n = static_cast<int64_t>(std::ceil((e - s) / st));
  Tensor t = empty({n}, options.with_requires_grad(false));
  if (n > 0) backend(options.device).arange(t, s, st);
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor arange(Scalar start, Scalar end, Scalar step, TensorOptions options) {
  // torch.arange infers int64 when every bound is an integer.
  if (options.dtype == DType::Float32 && start.is_integral() && end.is_integral() && step.is_integral()) {
    options.dtype = DType::Int64;
  }
  return arange_typed(start, end, step, options);
}

Tensor arange(Scalar end, TensorOptions options) { return arange(0, end, 1, options); }

Tensor from_blob_copy(const void* data, const Shape& shape, DType dtype, Device device) {
  Tensor host = empty(shape, TensorOptions(dtype, kCPU));
  size_t nbytes = static_cast<size_t>(host.numel()) * dtype_size(dtype);
  if (nbytes > 0) std::memcpy(host.data_ptr(), data, nbytes);
  return device.is_cpu() ? host : host.to(device);
}

Tensor from_blob(void* data, const Shape& shape, DType dtype, Device device, std::function<void(void*)> release) {
  auto impl = std::make_shared<TensorImpl>();
  size_t nbytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  impl->storage = std::make_shared<Storage>(data, nbytes, device, std::move(release));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

namespace {

Allocator* pinned_allocator_or_null() {
  Backend* cuda = cuda_backend_or_null();
  return cuda && cuda->device_count() > 0 ? cuda->pinned_host_allocator() : nullptr;
}

Tensor empty_in(const Shape& shape, DType dtype, Allocator& allocator) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), kCPU, allocator);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

}  // namespace

Tensor pin_memory(const Tensor& t) {
  EMBER_CHECK(t.device().is_cpu(), "pin_memory", "only CPU tensors can be pinned, got one on ", t.device().str());
  Allocator* pinned = pinned_allocator_or_null();
  if (!pinned || is_pinned(t)) return t;
  Tensor out = empty_in(t.shape(), t.dtype(), *pinned);
  if (out.numel() > 0) cpu_backend().copy(out, t.detach());
  return out;
}

Tensor empty_pinned(const Shape& shape, DType dtype) {
  Allocator* pinned = pinned_allocator_or_null();
  return pinned ? empty_in(shape, dtype, *pinned) : empty(shape, dtype);
}

bool is_pinned(const Tensor& t) {
  Backend* cuda = cuda_backend_or_null();
  Allocator* pinned = cuda && cuda->device_count() > 0 ? cuda->pinned_host_allocator() : nullptr;
  return pinned && t.storage()->allocator() == pinned;
}

template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  EMBER_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector", "got ", values.size(),
              " values for shape ", shape, " (", shape_numel(shape), " elements)");
  Tensor t;
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<uint8_t> bytes(values.begin(), values.end());
    t = from_blob_copy(bytes.data(), shape, DType::Bool, kCPU);
  } else {
    t = from_blob_copy(values.data(), shape, dtype_of<T>::value, kCPU);
  }
  return t.to(device);
}

template Tensor from_vector<float>(const std::vector<float>&, const Shape&, Device);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, Device);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&, Device);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, Device);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&, Device);
template Tensor from_vector<bool>(const std::vector<bool>&, const Shape&, Device);

}  // namespace ember
