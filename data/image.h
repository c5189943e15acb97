// Image: an 8-bit picture in HWC order (height rows of width pixels of
// `channels` bytes; 1 = grey, 3 = RGB), the type every decoder returns and
// every augmentation op reads and writes. Pixel storage is left
// uninitialised on allocation (ops overwrite every byte), which saves a
// memset per op on the loader's hot path.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace ember {

// std::allocator that default-initialises (no zero fill) on resize.
template <class T>
struct UninitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitAllocator<U>;
  };
  UninitAllocator() = default;
  template <class U>
  UninitAllocator(const UninitAllocator<U>&) {}  // NOLINT
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    if constexpr (sizeof...(Args) == 0) {
      ::new (static_cast<void*>(p)) U;
    } else {
      ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
  }
};

using PixelBuffer = std::vector<uint8_t, UninitAllocator<uint8_t>>;

struct Image {
  int height = 0, width = 0, channels = 0;
  PixelBuffer pixels;  // height * width * channels bytes, row-major HWC

  Image() = default;
  Image(int h, int w, int c) : height(h), width(w), channels(c), pixels(static_cast<size_t>(h) * w * c) {}
  // Copies with memcpy (a vector with a custom allocator copies element-wise).
  Image(const Image& o) : height(o.height), width(o.width), channels(o.channels), pixels(o.pixels.size()) {
    if (!o.pixels.empty()) std::memcpy(pixels.data(), o.pixels.data(), o.pixels.size());
  }
  Image& operator=(const Image& o) {
    if (this != &o) *this = Image(o);
    return *this;
  }
  Image(Image&&) noexcept = default;
  Image& operator=(Image&&) noexcept = default;
  bool empty() const { return pixels.empty(); }
  int64_t row_bytes() const { return int64_t{width} * channels; }
  uint8_t* row(int y) { return pixels.data() + y * row_bytes(); }
  const uint8_t* row(int y) const { return pixels.data() + y * row_bytes(); }
  uint8_t& at(int y, int x, int c) { return pixels[static_cast<size_t>((int64_t{y} * width + x) * channels + c)]; }
  uint8_t at(int y, int x, int c) const {
    return pixels[static_cast<size_t>((int64_t{y} * width + x) * channels + c)];
  }
  std::string shape_str() const;  // "HxWxC"
};

// uint8 tensor [H, W, C] holding a copy of the pixels.
Tensor image_to_tensor(const Image& image);
// The inverse: a uint8 tensor [H, W, C] (or [H, W], taken as grey).
Image tensor_to_image(const Tensor& t);
// Grey to RGB (each value repeated) or RGB to grey (ITU-R 601, as PIL's "L").
Image convert_channels(const Image& image, int channels);

}  // namespace ember
