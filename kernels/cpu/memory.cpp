// CPU copies (any strides, any dtype pair), fills and ranges.
#include <cstring>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/strided_loop.h"

namespace ember {

void CpuBackend::copy(const Tensor& dst, const Tensor& src) {
  if (dst.dtype() == src.dtype() && same_dense_layout(dst, {&src})) {
    std::memcpy(dst.data_ptr(), src.data_ptr(), static_cast<size_t>(dst.numel()) * dst.element_size());
    return;
  }
  dispatch_dtype(dst.dtype(), "copy", [&]<class To>() {
    dispatch_dtype(src.dtype(), "copy", [&]<class From>() {
      strided_loop<2>({&dst, &src}, [](char* const* p, int64_t n, const int64_t* s) {
        for (int64_t i = 0; i < n; ++i) {
          *reinterpret_cast<To*>(p[0] + i * s[0]) = convert<To>(*reinterpret_cast<const From*>(p[1] + i * s[1]));
        }
      });
    });
  });
}

void CpuBackend::copy_from_host(const Tensor& dst, const void* src, size_t nbytes) {
  std::memcpy(dst.data_ptr(), src, nbytes);
}

void CpuBackend::copy_to_host(void* dst, const Tensor& src, size_t nbytes) {
  std::memcpy(dst, src.data_ptr(), nbytes);
}

void CpuBackend::fill(const Tensor& dst, Scalar value) {
  dispatch_dtype(dst.dtype(), "fill", [&]<class T>() {
    const T v = value.is_integral() ? convert<T>(value.to_int()) : convert<T>(value.to_double());
    strided_loop<1>({&dst}, [v](char* const* p, int64_t n, const int64_t* s) {
      if (s[0] == sizeof(T)) {
        T* o = reinterpret_cast<T*>(p[0]);
        for (int64_t i = 0; i < n; ++i) o[i] = v;
      } else {
        for (int64_t i = 0; i < n; ++i) *reinterpret_cast<T*>(p[0] + i * s[0]) = v;
      }
    });
  });
}

void CpuBackend::arange(const Tensor& dst, double start, double step) {
  dispatch_dtype(dst.dtype(), "arange", [&]<class T>() {
    T* o = static_cast<T*>(dst.data_ptr());
    for (int64_t i = 0; i < dst.numel(); ++i) o[i] = convert<T>(start + static_cast<double>(i) * step);
  });
}

}  // namespace ember
