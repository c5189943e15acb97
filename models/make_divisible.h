// torchvision's _make_divisible (from TensorFlow's slim MobileNet): rounds a
// scaled channel count to the nearest multiple of `divisor` (at least
// `min_value`, which defaults to the divisor), never more than 10% below
// the value asked for. MobileNetV2, MobileNetV3 and EfficientNet size every
// layer with it, so width multipliers give hardware-friendly channel counts.
#pragma once

#include <algorithm>
#include <cstdint>

namespace ember {

inline int64_t make_divisible(double value, int64_t divisor, int64_t min_value = 0) {
  if (min_value <= 0) min_value = divisor;
  // Python's int() truncates; value is positive, so this is floor.
  int64_t rounded = static_cast<int64_t>(value + static_cast<double>(divisor) / 2.0) / divisor * divisor;
  int64_t result = std::max(min_value, rounded);
  if (static_cast<double>(result) < 0.9 * value) result += divisor;
  return result;
}

}  // namespace ember
