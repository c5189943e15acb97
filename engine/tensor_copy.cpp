// Copies between layouts, dtypes and devices, and reading values back.
#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/ops/inplace.h"
#include "engine/ops/reduce.h"
#include "engine/tensor.h"

namespace ember {

namespace {

// Copies a same-device, same-dtype-or-not tensor into a fresh dense one laid out in `format`.
Tensor copy_same_device(const Tensor& src, DType dtype, MemoryFormat format) {
  if (format == MemoryFormat::Preserve) format = suggest_memory_format(src);
  Tensor out = empty(src.shape(), TensorOptions(dtype, src.device()), format);
  if (src.numel() > 0) backend(src.device()).copy(out, src);
  return out;
}

// Moves `src` (any dtype) to `device` unchanged, keeping a channels-last layout.
Tensor transfer(const Tensor& src, Device device) {
  const MemoryFormat format = suggest_memory_format(src);
  Tensor from = src.contiguous(format).detach();
  Tensor out = empty(from.shape(), TensorOptions(from.dtype(), device), format);
  size_t nbytes = static_cast<size_t>(from.numel()) * from.element_size();
  if (nbytes == 0) return out;
  if (from.device().is_cpu() && device.is_cuda()) {
    backend(device).copy_from_host(out, from.data_ptr(), nbytes);
  } else if (from.device().is_cuda() && device.is_cpu()) {
    backend(from.device()).copy_to_host(out.data_ptr(), from, nbytes);
  } else {  // between two CUDA devices, through the host
    Tensor host = transfer(from, kCPU);
    backend(device).copy_from_host(out, host.data_ptr(), nbytes);
  }
  return out;
}

}  // namespace

Tensor Tensor::contiguous() const { return contiguous(MemoryFormat::Contiguous); }

Tensor Tensor::contiguous(MemoryFormat format) const {
  EMBER_CHECK(format != MemoryFormat::Preserve, "contiguous", "needs a layout (contiguous or channels_last)");
  if (is_contiguous(format)) return *this;
  EMBER_CHECK(format != MemoryFormat::ChannelsLast || dim() == 4, "contiguous",
              "channels_last needs a 4-D tensor [N, C, H, W], got shape ", shape());
  return clone(format);
}

Tensor Tensor::clone(MemoryFormat format) const {
  Tensor out = copy_same_device(*this, dtype(), format);
  record("CloneBackward", out, {*this}, [](const Tensor& g, const NeedsGrad&) -> std::vector<Tensor> {
    return {g};
  });
  return out;
}

Tensor Tensor::to(DType t) const { return to(device(), t); }
Tensor Tensor::to(Device d) const { return to(d, dtype()); }

Tensor Tensor::to(Device target_device, DType target_dtype) const {
  if (target_device == device() && target_dtype == dtype()) return *this;
  if (requires_grad() && grad_mode_enabled()) {
    EMBER_CHECK(is_floating(target_dtype), "to", "cannot convert a tensor that requires grad to ",
                dtype_name(target_dtype), " (gradients need a floating type)");
  }
  Tensor out;
  if (target_device == device()) {
    out = copy_same_device(*this, target_dtype, MemoryFormat::Preserve);
  } else if (device().is_cpu()) {
    out = transfer(dtype() == target_dtype ? *this : copy_same_device(*this, target_dtype, MemoryFormat::Preserve), target_device);
  } else {
    Tensor moved = transfer(*this, target_device);
    out = moved.dtype() == target_dtype ? moved : copy_same_device(moved, target_dtype, MemoryFormat::Preserve);
  }
  Device from_device = device();
  DType from_dtype = dtype();
  record("ToCopyBackward", out, {*this},
         [from_device, from_dtype](const Tensor& g, const NeedsGrad&) -> std::vector<Tensor> {
           return {g.to(from_device, from_dtype)};
         });
  return out;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, src, "copy_");
  Tensor from = src.device() == device() ? src : src.to(device());
  from = from.expand(shape());
  if (numel() > 0) backend(device()).copy(*this, from.detach());
  mark_written(*this);
  Shape src_shape = src.shape();
  DType src_dtype = src.dtype();
  Device src_device = src.device();
  record_inplace("CopyBackward", *this, {src},
                 [src_shape, src_dtype, src_device](const Tensor& g, const NeedsGrad& needs) {
                   std::vector<Tensor> grads(2);
                   if (needs[0]) grads[0] = zeros_like(g);
                   if (needs[1]) grads[1] = sum_to(g, src_shape).to(src_device, src_dtype);
                   return grads;
                 });
  return *this;
}

Tensor& Tensor::fill_(Scalar value) {
  check_inplace(*this, Tensor(), "fill_");
  if (numel() > 0) backend(device()).fill(*this, value);
  mark_written(*this);
  record_inplace("FillBackward", *this, {}, [](const Tensor& g, const NeedsGrad&) {
    return std::vector<Tensor>{zeros_like(g)};
  });
  return *this;
}

Tensor& Tensor::zero_() { return fill_(0); }

template <class T>
T Tensor::item() const {
  EMBER_CHECK(numel() == 1, "item", "a tensor with ", numel(), " elements (shape ", shape(),
              ") cannot be converted to a single value");
  return to_vector<T>()[0];
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = detach().to(kCPU).contiguous();
  std::vector<T> values(static_cast<size_t>(host.numel()));
  dispatch_dtype(host.dtype(), "to_vector", [&]<class S>() {
    const S* p = static_cast<const S*>(host.data_ptr());
    for (size_t i = 0; i < values.size(); ++i) {
      if constexpr (std::is_same_v<S, Half> || std::is_same_v<S, BFloat16>) {
        values[i] = static_cast<T>(static_cast<float>(p[i]));
      } else {
        values[i] = static_cast<T>(p[i]);
      }
    }
  });
  return values;
}

#define EMBER_INSTANTIATE_READ(T)                      \
  template T Tensor::item<T>() const;                  \
  template std::vector<T> Tensor::to_vector<T>() const;
EMBER_INSTANTIATE_READ(float)
EMBER_INSTANTIATE_READ(double)
EMBER_INSTANTIATE_READ(int32_t)
EMBER_INSTANTIATE_READ(int64_t)
EMBER_INSTANTIATE_READ(uint8_t)
EMBER_INSTANTIATE_READ(bool)
#undef EMBER_INSTANTIATE_READ

}  // namespace ember
