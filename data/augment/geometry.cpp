#include "data/augment/geometry.h"

#include <cstring>

#include "engine/error.h"

namespace ember {
namespace {

// Three-byte pixels move as overlapping 4-byte words (the fourth byte is
// rewritten by the next pixel), one load and one store per pixel.
void hflip_rows3(const Image& src, Image& dst) {
  const int w = src.width;
  for (int y = 0; y < src.height; ++y) {
    const uint8_t* s = src.row(y);
    uint8_t* d = dst.row(y);
    std::memcpy(d, s + 3 * (w - 1), 3);  // the ends move as 3 bytes: no access past the row
    for (int x = 1; x + 1 < w; ++x) {
      uint32_t v;
      std::memcpy(&v, s + 3 * (w - 1 - x), 4);
      std::memcpy(d + 3 * x, &v, 4);
    }
    if (w > 1) std::memcpy(d + 3 * (w - 1), s, 3);
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
  std::vector<int> xmap(static_cast<size_t>(W));
  for (int x = 0; x < W; ++x) xmap[static_cast<size_t>(x)] = border_index(x - left, src.width, mode);
  for (int y = 0; y < H; ++y) {
    int sy = border_index(y - top, src.height, mode);
    uint8_t* d = dst.row(y);
    if (sy < 0) {
      for (int x = 0; x < W; ++x)
        for (int ch = 0; ch < c; ++ch) d[x * c + ch] = value[static_cast<size_t>(ch)];
      continue;
    }
    const uint8_t* s = src.row(sy);
    for (int x = 0; x < W; ++x) {
      int sx = xmap[static_cast<size_t>(x)];
      for (int ch = 0; ch < c; ++ch) d[x * c + ch] = sx < 0 ? value[static_cast<size_t>(ch)] : s[sx * c + ch];
    }
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
