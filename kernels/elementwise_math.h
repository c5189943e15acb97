// The scalar formulas of every elementwise op and of the activation
// derivatives, written once for the CPU and CUDA backends (host and device
// functions under nvcc). C is the compute type: float or double (16-bit
// floats compute in float), or an integer type for the ops that allow it.
//
// The formulas follow PyTorch's CPU kernels (aten/src/ATen/native), so both
// backends agree with PyTorch to rounding: e.g. hardswish' is (x/3 + 1/2)
// on [-3, 3], and softplus switches to the identity above 20.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#if defined(__CUDACC__)
#define EMBER_HD __host__ __device__ __forceinline__
#else
#define EMBER_HD inline
#endif

namespace ember::math {

// A floating value as integer type To, truncated and clamped to To's range,
// NaN as 0: the conversion of both backends (a plain cast is undefined
// outside the range, and on a GPU wraps into uint8: 300 -> 44).
template <class To, class From>
EMBER_HD To saturating_cast(From v) {
  if (v != v) return To(0);
  if (v <= static_cast<From>(std::numeric_limits<To>::lowest())) return std::numeric_limits<To>::lowest();
  if (v >= static_cast<From>(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
  return static_cast<To>(v);
}

// Unqualified calls below pick the float overload for float (not ::exp(double)).
using std::erf;
using std::exp;
using std::log1p;
using std::pow;
using std::tanh;

template <class C>
EMBER_HD bool is_nan(C x) {
  if constexpr (std::is_floating_point_v<C>) return x != x;
  else return false;
}

template <class C> EMBER_HD C sigmoid(C x) { return C(1) / (C(1) + exp(-x)); }

template <class C>
EMBER_HD C sign(C x) {
  if constexpr (std::is_unsigned_v<C>) return x > C(0) ? C(1) : C(0);
  else return static_cast<C>((C(0) < x) - (x < C(0)));
}

// PyTorch's clamp_min(x, 0): NaN and -0 pass through (relu(-0.0) is -0.0
// there too). Written as x86's maxps(0, x) reads, which the CPU epilogue's
// vector form (batch_norm_rows.h) uses.
template <class C>
EMBER_HD C relu(C x) {
  if constexpr (std::is_unsigned_v<C>) return x;
  else return C(0) > x ? C(0) : x;
}

template <class C> EMBER_HD C silu(C x) { return x / (C(1) + exp(-x)); }

template <class C>
EMBER_HD C hardsigmoid(C x) {
  C r = x + C(3);
  r = r < C(0) ? C(0) : (r > C(6) ? C(6) : r);
  return r / C(6);
}

template <class C> EMBER_HD C hardswish(C x) { return x * hardsigmoid(x); }

template <class C> EMBER_HD C gelu(C x) { return C(0.5) * x * (C(1) + erf(x * C(M_SQRT1_2))); }

template <class C>
EMBER_HD C gelu_tanh(C x) {
  const C beta = C(M_SQRT2 * M_2_SQRTPI * 0.5);  // sqrt(2/pi)
  const C kappa = C(0.044715);
  return C(0.5) * x * (C(1) + tanh(beta * (x + kappa * x * x * x)));
}

template <class C> EMBER_HD C softplus(C x) { return x > C(20) ? x : log1p(exp(x)); }

template <class C> EMBER_HD C leaky_relu(C x, C slope) { return x > C(0) ? x : x * slope; }

template <class C>
EMBER_HD C clamp(C x, C lo, C hi) {
  if (is_nan(x)) return x;
  return x < lo ? lo : (x > hi ? hi : x);
}

// Integer power by squaring (torch.pow on integer tensors); negative
// exponents give 0 except for bases 1 and -1.
template <class C>
EMBER_HD C int_pow(C base, C exp) {
  if constexpr (std::is_signed_v<C>) {
    if (exp < 0) {
      if (base == 1) return 1;
      if (base == -1) return (exp % 2 == 0) ? 1 : -1;
      return 0;
    }
  }
  C result = 1;
  while (exp) {
    if (exp & 1) result *= base;
    exp >>= 1;
    base *= base;
  }
  return result;
}

template <class C>
EMBER_HD C power(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) return pow(a, b);
  else if constexpr (std::is_same_v<C, bool>) return a || !b;
  else return int_pow(a, b);
}

template <class C>
EMBER_HD C maximum(C a, C b) {
  if (is_nan(a)) return a;
  if (is_nan(b)) return b;
  return a > b ? a : b;
}

template <class C>
EMBER_HD C minimum(C a, C b) {
  if (is_nan(a)) return a;
  if (is_nan(b)) return b;
  return a < b ? a : b;
}

// --- Derivatives: gradient g times d(activation)/d(input) ---

template <class C> EMBER_HD C relu_backward(C g, C y) { return y > C(0) ? g : C(0); }
template <class C> EMBER_HD C sigmoid_backward(C g, C y) { return g * (C(1) - y) * y; }
template <class C> EMBER_HD C tanh_backward(C g, C y) { return g * (C(1) - y * y); }

template <class C>
EMBER_HD C silu_backward(C g, C x) {
  C s = C(1) / (C(1) + exp(-x));
  return g * s * (C(1) + x * (C(1) - s));
}

template <class C>
EMBER_HD C hardswish_backward(C g, C x) {
  if (x < C(-3)) return C(0);
  if (x <= C(3)) return g * (x / C(3) + C(0.5));
  return g;
}

template <class C>
EMBER_HD C hardsigmoid_backward(C g, C x) {
  return (x > C(-3) && x < C(3)) ? g / C(6) : C(0);
}

template <class C>
EMBER_HD C gelu_backward(C g, C x) {
  const C kAlpha = C(M_2_SQRTPI * M_SQRT1_2 * 0.5);  // 1 / sqrt(2 pi)
  C cdf = C(0.5) * (C(1) + erf(x * C(M_SQRT1_2)));
  C pdf = kAlpha * exp(C(-0.5) * x * x);
  return g * (cdf + x * pdf);
}

template <class C>
EMBER_HD C gelu_tanh_backward(C g, C x) {
  const C beta = C(M_SQRT2 * M_2_SQRTPI * 0.5);
  const C kappa = C(0.044715);
  C x_sq = x * x;
  C inner = beta * (x + kappa * x_sq * x);
  C t = tanh(inner);
  C left = C(0.5) * x;
  C right = C(1) + t;
  C left_derivative = C(0.5) * right;
  C right_derivative = left * (C(1) - t * t) * beta * (C(1) + C(3) * kappa * x_sq);
  return g * (left_derivative + right_derivative);
}

template <class C>
EMBER_HD C softplus_backward(C g, C x) {
  if (x > C(20)) return g;
  C z = exp(x);
  return g * z / (z + C(1));
}

template <class C> EMBER_HD C leaky_relu_backward(C g, C x, C slope) { return x > C(0) ? g : g * slope; }

template <class C> EMBER_HD C clamp_backward(C g, C x, C lo, C hi) { return (x >= lo && x <= hi) ? g : C(0); }

}  // namespace ember::math
