#include "data/image.h"

#include <cstring>

#include "engine/error.h"

namespace ember {

std::string Image::shape_str() const { return cat_str(height, "x", width, "x", channels); }

Tensor image_to_tensor(const Image& image) {
  return from_blob_copy(image.pixels.data(), {image.height, image.width, image.channels}, DType::UInt8);
}

Image tensor_to_image(const Tensor& t) {
  EMBER_CHECK(t.dtype() == DType::UInt8 && (t.dim() == 2 || t.dim() == 3), "tensor_to_image",
              "expected a uint8 [H, W] or [H, W, C] tensor, got ", dtype_name(t.dtype()), " ", t.shape());
  Tensor c = t.cpu().contiguous();
  Image img(static_cast<int>(c.size(0)), static_cast<int>(c.size(1)), t.dim() == 3 ? static_cast<int>(c.size(2)) : 1);
  std::memcpy(img.pixels.data(), c.data_ptr(), img.pixels.size());
  return img;
}

Image convert_channels(const Image& image, int channels) {
  if (image.channels == channels) return image;
  Image out(image.height, image.width, channels);
  const size_t n = static_cast<size_t>(image.height) * image.width;
  const uint8_t* s = image.pixels.data();
  uint8_t* d = out.pixels.data();
  if (image.channels == 1 && channels == 3) {
    for (size_t i = 0; i < n; ++i) d[3 * i] = d[3 * i + 1] = d[3 * i + 2] = s[i];
  } else if (image.channels == 3 && channels == 1) {
    // PIL's convert("L"): (R*19595 + G*38470 + B*7471 + 0x8000) >> 16.
    for (size_t i = 0; i < n; ++i)
      d[i] = static_cast<uint8_t>((s[3 * i] * 19595 + s[3 * i + 1] * 38470 + s[3 * i + 2] * 7471 + 0x8000) >> 16);
  } else if (image.channels == 4 && channels == 3) {
    for (size_t i = 0; i < n; ++i) std::memcpy(d + 3 * i, s + 4 * i, 3);
  } else {
    fail("convert_channels", "cannot convert ", image.channels, " channels to ", channels);
  }
  return out;
}

}  // namespace ember
