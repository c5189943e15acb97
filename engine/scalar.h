// A number passed to an op (fill value, clamp bound, the 2 in x * 2): an
// integer or a floating value, kept exact until the op knows the tensor's type.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace ember {

class Scalar {
 public:
  Scalar() = default;
  template <class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
  Scalar(T v) {  // NOLINT: numbers convert implicitly, as in PyTorch
    if constexpr (std::is_floating_point_v<T>) {
      is_integral_ = false;
      d_ = static_cast<double>(v);
      i_ = saturate<int64_t>(d_);
    } else {
      is_integral_ = true;
      i_ = static_cast<int64_t>(v);
      d_ = static_cast<double>(v);
    }
  }
  bool is_integral() const { return is_integral_; }
  double to_double() const { return d_; }
  int64_t to_int() const { return i_; }
  template <class T>
  T to() const {
    if constexpr (std::is_floating_point_v<T>) return static_cast<T>(d_);
    else if constexpr (std::is_integral_v<T>) return is_integral_ ? static_cast<T>(i_) : saturate<T>(d_);
    else return T(static_cast<float>(d_));  // Half, BFloat16
  }

 private:
  // A floating value as integer type I: truncated, clamped to I's range, NaN
  // as 0. (A plain cast of -inf, as in a max-pool's padding value, or of any
  // out-of-range value is undefined behaviour.)
  template <class I>
  static I saturate(double v) {
    if (std::isnan(v)) return 0;
    if (v <= static_cast<double>(std::numeric_limits<I>::lowest())) return std::numeric_limits<I>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<I>::max())) return std::numeric_limits<I>::max();
    return static_cast<I>(v);
  }

  bool is_integral_ = true;
  int64_t i_ = 0;
  double d_ = 0.0;
};

}  // namespace ember
