// What every CUDA kernel file needs: the device-side element types and their
// conversions, dtype dispatch, and the launch context (device, stream, grid).
//
// Types: ember::Half / ember::BFloat16 share their bit layout with CUDA's
// __half / __nv_bfloat16, so a tensor's memory is read on the device as the
// CUDA type. The 16-bit types compute in float (acc_t), like the CPU backend.
// cast<To>(from) converts exactly as the CPU's convert<To>() does: through
// float for the 16-bit types and to bool, round-to-nearest-even into 16 bits.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "engine/cuda/cuda_stream.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/tensor.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/elementwise_math.h"

namespace ember {

template <class T>
inline constexpr bool is_16bit_float_v = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

// The type arithmetic and accumulation happen in: float for 16-bit floats.
template <class T>
struct AccType {
  using type = T;
};
template <>
struct AccType<__half> {
  using type = float;
};
template <>
struct AccType<__nv_bfloat16> {
  using type = float;
};
template <class T>
using acc_t = typename AccType<T>::type;

template <class T>
inline constexpr bool is_float_like_v = std::is_floating_point_v<acc_t<T>>;

template <class To, class From>
__device__ __forceinline__ To cast(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<From, __half>) {
    return cast<To>(__half2float(v));
  } else if constexpr (std::is_same_v<From, __nv_bfloat16>) {
    return cast<To>(__bfloat162float(v));
  } else if constexpr (std::is_same_v<To, bool>) {
    return static_cast<float>(v) != 0.0f;
  } else if constexpr (std::is_same_v<To, __half>) {
    return __float2half_rn(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, __nv_bfloat16>) {
    return __float2bfloat16_rn(static_cast<float>(v));
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    // Truncate and clamp to To's range, NaN as 0, as the CPU does: a plain
    // cast to uint8 converts to 32 bits and keeps the low byte (300 -> 44).
    return math::saturating_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

// The host type with the same bits as device type T (for values made on the host).
template <class T>
struct HostType {
  using type = T;
};
template <>
struct HostType<__half> {
  using type = Half;
};
template <>
struct HostType<__nv_bfloat16> {
  using type = BFloat16;
};

// A value computed on the host (with the CPU backend's conversion rules),
// reinterpreted as device type T.
template <class T, class V>
T host_value(V v) {
  using H = typename HostType<T>::type;
  H h;
  if constexpr (std::is_same_v<H, bool>) {
    h = static_cast<float>(v) != 0.0f;
  } else if constexpr (std::is_same_v<H, Half> || std::is_same_v<H, BFloat16>) {
    h = H(static_cast<float>(v));
  } else if constexpr (std::is_floating_point_v<V> && std::is_integral_v<H>) {
    h = math::saturating_cast<H>(v);  // fill(nan / inf / 300.5) into an integer tensor, as on the CPU
  } else {
    h = static_cast<H>(v);
  }
  static_assert(sizeof(H) == sizeof(T));
  T t;
  std::memcpy(static_cast<void*>(&t), &h, sizeof(T));
  return t;
}

// Calls fn.template operator()<T>() with T the device type of `t`.
template <class Fn>
decltype(auto) dispatch_cuda_dtype(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::Float32: return fn.template operator()<float>();
    case DType::Float64: return fn.template operator()<double>();
    case DType::Float16: return fn.template operator()<__half>();
    case DType::BFloat16: return fn.template operator()<__nv_bfloat16>();
    case DType::Int32: return fn.template operator()<int32_t>();
    case DType::Int64: return fn.template operator()<int64_t>();
    case DType::UInt8: return fn.template operator()<uint8_t>();
    case DType::Bool: return fn.template operator()<bool>();
  }
  fail(op, "unknown dtype");
}

// The floating types only (float, double, half, bfloat16); others are an error naming the op.
template <class Fn>
decltype(auto) dispatch_cuda_floating(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::Float32: return fn.template operator()<float>();
    case DType::Float64: return fn.template operator()<double>();
    case DType::Float16: return fn.template operator()<__half>();
    case DType::BFloat16: return fn.template operator()<__nv_bfloat16>();
    default: fail(op, "expected a floating-point tensor, got ", dtype_name(t));
  }
}

// The device of a kernel call made current for the call's scope, and its stream.
struct KernelContext {
  explicit KernelContext(const Tensor& t) : device(t.device().index), guard(device), stream(current_stream(device)) {}
  int device;
  DeviceGuard guard;
  cudaStream_t stream;
};

// Streaming multiprocessors of `device` (asked once per device).
int sm_count(int device);

// Blocks for a grid-stride loop over `work` items with `threads` per block:
// enough to cover the work, at most a few waves of resident blocks (each
// thread then loops), so huge tensors do not launch millions of blocks.
inline unsigned grid_for(int64_t work, int threads, int device) {
  int64_t needed = (work + threads - 1) / threads;
  int64_t cap = static_cast<int64_t>(sm_count(device)) * (2048 / threads) * 4;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min(needed, cap)));
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace ember
