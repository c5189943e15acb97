// Element types of tensors, their sizes and names, PyTorch's type promotion,
// and dispatch_dtype(): the one place that turns a runtime DType into a C++
// type for a kernel template.
#pragma once

#include <cstdint>
#include <string>

#include "engine/error.h"
#include "engine/half.h"

namespace ember {

enum class DType : uint8_t { Float32, Float64, Float16, BFloat16, Int32, Int64, UInt8, Bool };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "float32", "int64", ...
DType dtype_from_name(const std::string& name);  // accepts the names above; throws otherwise
bool is_floating(DType t);
bool is_integral(DType t);  // integer types and bool
bool is_16bit_float(DType t);  // float16 or bfloat16

// Result type of a binary op between tensors of types a and b (torch.promote_types).
DType promote_types(DType a, DType b);

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<Half> { static constexpr DType value = DType::Float16; };
template <> struct dtype_of<BFloat16> { static constexpr DType value = DType::BFloat16; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::Int32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::UInt8; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };

// The type arithmetic happens in: float for the 16-bit floats, else itself.
template <class T> struct compute_type { using type = T; };
template <> struct compute_type<Half> { using type = float; };
template <> struct compute_type<BFloat16> { using type = float; };
template <class T> using compute_t = typename compute_type<T>::type;

// Calls fn.template operator()<T>() with T the C++ type of `t`.
// Usage: dispatch_dtype(t, "relu", [&]<class T>() { ... });
template <class Fn>
decltype(auto) dispatch_dtype(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::Float32: return fn.template operator()<float>();
    case DType::Float64: return fn.template operator()<double>();
    case DType::Float16: return fn.template operator()<Half>();
    case DType::BFloat16: return fn.template operator()<BFloat16>();
    case DType::Int32: return fn.template operator()<int32_t>();
    case DType::Int64: return fn.template operator()<int64_t>();
    case DType::UInt8: return fn.template operator()<uint8_t>();
    case DType::Bool: return fn.template operator()<bool>();
  }
  fail(op, "unknown dtype");
}

// Same, for the floating types only; any other type is an error naming the op.
template <class Fn>
decltype(auto) dispatch_floating(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::Float32: return fn.template operator()<float>();
    case DType::Float64: return fn.template operator()<double>();
    case DType::Float16: return fn.template operator()<Half>();
    case DType::BFloat16: return fn.template operator()<BFloat16>();
    default: fail(op, "expected a floating-point tensor, got ", dtype_name(t));
  }
}

// Float32 and float64 only: the kernels that accumulate (conv, matmul, norms).
template <class Fn>
decltype(auto) dispatch_float_double(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::Float32: return fn.template operator()<float>();
    case DType::Float64: return fn.template operator()<double>();
    default: fail(op, "supports float32 and float64 on this device, got ", dtype_name(t));
  }
}

}  // namespace ember
