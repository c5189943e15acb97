// Interpolation and border modes, numbered as OpenCV's (and so as the
// integers Albumentations configs use), and the index mapping for
// out-of-range coordinates.
#pragma once

#include <string>

namespace ember {

enum class Interpolation { Nearest = 0, Linear = 1, Cubic = 2, Area = 3 };
// OpenCV: CONSTANT 0, REPLICATE 1, REFLECT 2 (fedcba|abcdef), WRAP 3,
// REFLECT_101 4 (gfedcb|abcdefg). torchvision's "edge" is Replicate,
// "reflect" is Reflect101 and "symmetric" is Reflect.
enum class BorderMode { Constant = 0, Replicate = 1, Reflect = 2, Wrap = 3, Reflect101 = 4 };

Interpolation interpolation_from_name(const std::string& name);  // "nearest", "linear"/"bilinear", "area", "0".."3"
BorderMode border_mode_from_name(const std::string& name);      // "constant", "edge", "reflect", ... or "0".."4"

// Maps p into [0, len) for the border mode (OpenCV's borderInterpolate);
// -1 for Constant when p is outside.
inline int border_index(int p, int len, BorderMode mode) {
  if (static_cast<unsigned>(p) < static_cast<unsigned>(len)) return p;
  switch (mode) {
    case BorderMode::Constant: return -1;
    case BorderMode::Replicate: return p < 0 ? 0 : len - 1;
    case BorderMode::Wrap: return ((p % len) + len) % len;
    case BorderMode::Reflect:
    case BorderMode::Reflect101: {
      if (len == 1) return 0;
      const int delta = mode == BorderMode::Reflect101 ? 1 : 0;
      do {
        if (p < 0)
          p = -p - 1 + delta;
        else
          p = len - 1 - (p - len) - delta;
      } while (static_cast<unsigned>(p) >= static_cast<unsigned>(len));
      return p;
    }
  }
  return -1;
}

}  // namespace ember
