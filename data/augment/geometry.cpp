#include "data/augment/geometry.h"

#include <cstring>
#if defined(__SSSE3__)
#include <immintrin.h>
#endif

#include "engine/error.h"

namespace ember {
namespace {

// Reverses the pixel order of RGB rows. With SSSE3 five pixels (15 bytes)
// move per 16-byte load, byte shuffle and store. The source is read
// forwards (the hardware prefetcher follows a forward stream best), so the
// destination fills backwards: each store puts one spare byte in front of
// its five pixels, inside the pixel the next store (or the scalar loop for
// the row's first pixels) writes. The 16th byte loaded is the first byte of
// the next source pixel, so the vector loop stops one pixel before the end.
void hflip_rows3(const Image& src, Image& dst) {
  const int w = src.width;
  for (int y = 0; y < src.height; ++y) {
    const uint8_t* s = src.row(y);
    uint8_t* d = dst.row(y);
    int xs = 0;  // source pixels [0, xs) are placed
#if defined(__SSSE3__)
    const __m128i rev5 = _mm_setr_epi8(0, 12, 13, 14, 9, 10, 11, 6, 7, 8, 3, 4, 5, 0, 1, 2);
    for (; xs + 6 <= w; xs += 5) {
      // source pixels xs..xs+4 become destination pixels w-1-xs..w-5-xs
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 3 * xs));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 3 * (w - 5 - xs) - 1), _mm_shuffle_epi8(v, rev5));
    }
#endif
    for (int x = 0; x < w - xs; ++x) std::memcpy(d + 3 * x, s + 3 * (w - 1 - x), 3);
  }
}

template <int C>
void hflip_rows(const Image& src, Image& dst) {
  for (int y = 0; y < src.height; ++y) {
    const uint8_t* s = src.row(y);
    uint8_t* d = dst.row(y) + int64_t{src.width - 1} * C;
    for (int x = 0; x < src.width; ++x, s += C, d -= C)
      for (int c = 0; c < C; ++c) d[c] = s[c];
  }
}

}  // namespace

Image hflip(const Image& src) {
  Image dst(src.height, src.width, src.channels);
  switch (src.channels) {
    case 1: hflip_rows<1>(src, dst); break;
    case 3: hflip_rows3(src, dst); break;
    case 4: hflip_rows<4>(src, dst); break;
    default: fail("hflip", "unsupported channel count ", src.channels);
  }
  return dst;
}

Image vflip(const Image& src) {
  Image dst(src.height, src.width, src.channels);
  for (int y = 0; y < src.height; ++y)
    std::memcpy(dst.row(src.height - 1 - y), src.row(y), static_cast<size_t>(src.row_bytes()));
  return dst;
}

Image transpose_image(const Image& src) {
  const int c = src.channels;
  Image dst(src.width, src.height, c);
  // Blocked so both sides stay in cache.
  constexpr int B = 32;
  for (int y0 = 0; y0 < src.height; y0 += B)
    for (int x0 = 0; x0 < src.width; x0 += B)
      for (int y = y0; y < std::min(y0 + B, src.height); ++y) {
        const uint8_t* s = src.row(y);
        for (int x = x0; x < std::min(x0 + B, src.width); ++x)
          std::memcpy(dst.row(x) + int64_t{y} * c, s + int64_t{x} * c, static_cast<size_t>(c));
      }
  return dst;
}

Image rot90(const Image& src, int k) {
  k = ((k % 4) + 4) % 4;
  switch (k) {
    case 0: return src;
    case 1: return vflip(transpose_image(src));  // counter-clockwise
    case 2: return hflip(vflip(src));
    default: return hflip(transpose_image(src));
  }
}

Image crop(const Image& src, int y, int x, int h, int w) {
  EMBER_CHECK(h > 0 && w > 0 && y >= 0 && x >= 0 && y + h <= src.height && x + w <= src.width, "crop", "box y=", y,
              " x=", x, " h=", h, " w=", w, " does not fit a ", src.shape_str(), " image");
  Image dst(h, w, src.channels);
  for (int r = 0; r < h; ++r)
    std::memcpy(dst.row(r), src.row(y + r) + int64_t{x} * src.channels, static_cast<size_t>(dst.row_bytes()));
  return dst;
}

Image pad(const Image& src, int top, int bottom, int left, int right, BorderMode mode, std::array<uint8_t, 4> value) {
  EMBER_CHECK(top >= 0 && bottom >= 0 && left >= 0 && right >= 0, "pad", "padding must be >= 0");
  const int c = src.channels, H = src.height + top + bottom, W = src.width + left + right;
  Image dst(H, W, c);
  // Interior bytes are one memcpy per row; only the border columns go
  // through the border mode's index mapping.
  auto fill_pixels = [&](uint8_t* d, const uint8_t* s, int x0, int x1) {
    for (int x = x0; x < x1; ++x) {
      const int sx = s ? border_index(x - left, src.width, mode) : -1;
      for (int ch = 0; ch < c; ++ch) d[x * c + ch] = sx < 0 ? value[static_cast<size_t>(ch)] : s[sx * c + ch];
    }
  };
  for (int y = 0; y < H; ++y) {
    const int sy = border_index(y - top, src.height, mode);
    uint8_t* d = dst.row(y);
    if (sy < 0) {
      fill_pixels(d, nullptr, 0, W);
      continue;
    }
    const uint8_t* s = src.row(sy);
    fill_pixels(d, s, 0, left);
    std::memcpy(d + int64_t{left} * c, s, static_cast<size_t>(src.row_bytes()));
    fill_pixels(d, s, left + src.width, W);
  }
  return dst;
}

CropBox random_crop_box(int height, int width, int crop_h, int crop_w, double h_start, double w_start) {
  EMBER_CHECK(crop_h <= height && crop_w <= width, "RandomCrop", "crop ", crop_h, "x", crop_w,
              " is larger than the ", height, "x", width, " image");
  CropBox b;
  b.h = crop_h;
  b.w = crop_w;
  b.y = static_cast<int>((height - crop_h + 1) * h_start);
  b.x = static_cast<int>((width - crop_w + 1) * w_start);
  b.y = std::min(b.y, height - crop_h);
  b.x = std::min(b.x, width - crop_w);
  return b;
}

CropBox center_crop_box(int height, int width, int crop_h, int crop_w) {
  EMBER_CHECK(crop_h <= height && crop_w <= width, "CenterCrop", "crop ", crop_h, "x", crop_w,
              " is larger than the ", height, "x", width, " image");
  return CropBox{(height - crop_h) / 2, (width - crop_w) / 2, crop_h, crop_w};
}

}  // namespace ember
