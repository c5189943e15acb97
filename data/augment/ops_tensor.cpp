// Conversion ops: 8-bit image -> float tensor. Cost per value: one
// subtract and one multiply (Normalize), one multiply (Rescale), a strided
// copy (ToTensor's HWC -> CHW).
#include <cstring>

#include "data/augment/ops.h"
#include "engine/error.h"

namespace ember {

Tensor normalize_image(const Image& img, const std::vector<float>& mean, const std::vector<float>& std,
                       float max_pixel) {
  const int c = img.channels;
  EMBER_CHECK(mean.size() == static_cast<size_t>(c) && std.size() == static_cast<size_t>(c), "Normalize", "mean and std need ",
              c, " values for a ", img.shape_str(), " image, got ", mean.size(), " and ", std.size());
  // As Albumentations: float32 (v - mean*max) * (1 / (std*max)).
  std::array<float, 4> m{}, inv{};
  for (int i = 0; i < c; ++i) {
    m[static_cast<size_t>(i)] = mean[static_cast<size_t>(i)] * max_pixel;
    inv[static_cast<size_t>(i)] = 1.0f / (std[static_cast<size_t>(i)] * max_pixel);
  }
  Tensor t = empty({img.height, img.width, c});
  float* d = t.data<float>();
  const uint8_t* s = img.pixels.data();
  const size_t n = static_cast<size_t>(img.height) * img.width;
  for (size_t p = 0; p < n; ++p)
    for (int i = 0; i < c; ++i, ++s, ++d) *d = (static_cast<float>(*s) - m[static_cast<size_t>(i)]) * inv[static_cast<size_t>(i)];
  return t;
}

void Normalize::apply(Sample& s, Rng&) const {
  s.set_tensor(normalize_image(image_of(s), mean_, std_, max_pixel_), false);
}

void Rescale::apply(Sample& s, Rng&) const {
  const Image& img = image_of(s);
  Tensor t = empty({img.height, img.width, img.channels});
  float* d = t.data<float>();
  for (size_t i = 0; i < img.pixels.size(); ++i) d[i] = static_cast<float>(img.pixels[i]) * scale_;
  s.set_tensor(t, false);
}

void ToTensor::apply(Sample& s, Rng&) const {
  if (s.is_tensor()) {
    if (!s.chw) s.tensor = s.tensor.permute({2, 0, 1}).contiguous();
    s.chw = true;
    return;
  }
  const Image& img = s.current();
  const int c = img.channels;
  const size_t plane = static_cast<size_t>(img.height) * img.width;
  const uint8_t* src = img.pixels.data();
  if (scale_) {
    Tensor t = empty({c, img.height, img.width});
    float* d = t.data<float>();
    for (size_t p = 0; p < plane; ++p)
      for (int i = 0; i < c; ++i) d[static_cast<size_t>(i) * plane + p] = static_cast<float>(src[p * c + i]) / 255.0f;
    s.set_tensor(t, true);
  } else {
    Tensor t = empty({c, img.height, img.width}, DType::UInt8);
    uint8_t* d = t.data<uint8_t>();
    for (size_t p = 0; p < plane; ++p)
      for (int i = 0; i < c; ++i) d[static_cast<size_t>(i) * plane + p] = src[p * c + i];
    s.set_tensor(t, true);
  }
}

}  // namespace ember
