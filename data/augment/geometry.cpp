#include "data/augment/geometry.h"

#include <algorithm>
#include <cstring>
#if defined(__SSSE3__)
#include <immintrin.h>
#endif

#include "engine/error.h"

namespace ember {
namespace {

// Reverses the order of n RGB pixels (s and d do not overlap). With SSSE3
// five pixels (15 bytes) move per 16-byte load, byte shuffle and store. The
// source is read forwards (the hardware prefetcher follows a forward stream
// best), so the destination fills backwards: each store puts one spare byte
// in front of its five pixels, inside the pixel the next store (or the
// scalar loop for the first pixels) writes. The 16th byte loaded is the
// first byte of the next source pixel, so the vector loop stops one pixel
// before the end.
void reverse_pixels3(const uint8_t* s, uint8_t* d, int64_t n) {
  int64_t xs = 0;  // source pixels [0, xs) are placed
#if defined(__SSSE3__)
  const __m128i rev5 = _mm_setr_epi8(0, 12, 13, 14, 9, 10, 11, 6, 7, 8, 3, 4, 5, 0, 1, 2);
  for (; xs + 6 <= n; xs += 5) {
    // source pixels xs..xs+4 become destination pixels n-1-xs..n-5-xs
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 3 * xs));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 3 * (n - 5 - xs) - 1), _mm_shuffle_epi8(v, rev5));
  }
#endif
  for (int64_t x = 0; x < n - xs; ++x) std::memcpy(d + 3 * x, s + 3 * (n - 1 - x), 3);
}

template <int C>
void reverse_pixels(const uint8_t* s, uint8_t* d, int64_t n) {
  if constexpr (C == 3) {
    reverse_pixels3(s, d, n);
  } else {
    d += (n - 1) * C;
    for (int64_t x = 0; x < n; ++x, s += C, d -= C)
      for (int c = 0; c < C; ++c) d[c] = s[c];
  }
}

// Calls f.template operator()<C>() with the image's channel count as a
// compile-time constant, so the per-pixel copies unroll.
template <class F>
void with_channels(const char* op, int channels, F&& f) {
  switch (channels) {
    case 1: f.template operator()<1>(); break;
    case 3: f.template operator()<3>(); break;
    case 4: f.template operator()<4>(); break;
    default: fail(op, "unsupported channel count ", channels);
  }
}

// Quarter turns and the transpose write a W x H image whose pixel (i, j)
// is the source's pixel (sy(j), sx(i)):
//   transpose:          sy = j,        sx = i
//   counter-clockwise:  sy = j,        sx = W-1-i
//   clockwise:          sy = H-1-j,    sx = i
enum class Quarter { transpose, ccw, cw };

template <Quarter Q>
int64_t source_offset(int i, int j, int H, int W, int C) {
  const int sx = Q == Quarter::ccw ? W - 1 - i : i, sy = Q == Quarter::cw ? H - 1 - j : j;
  return (int64_t{sy} * W + sx) * C;
}

// Pixel by pixel, for the edges the 4x4 blocks leave and for grey images.
template <int C, Quarter Q>
void rotate_pixels(const Image& src, Image& dst, int i0, int i1, int j0, int j1) {
  for (int i = i0; i < i1; ++i) {
    uint8_t* d = dst.row(i) + int64_t{j0} * C;
    for (int j = j0; j < j1; ++j, d += C) std::memcpy(d, src.pixels.data() + source_offset<Q>(i, j, src.height, src.width, C), C);
  }
}

#if defined(__SSE4_1__)
// 4 pixels of C = 3 or 4 bytes as the four 32-bit lanes of a register
// (exact-size loads and stores: nothing outside the 12 bytes is touched).
template <int C>
__m128i load_pixels4(const uint8_t* p) {
  if constexpr (C == 4) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  int32_t tail;
  std::memcpy(&tail, p + 8, 4);
  const __m128i v = _mm_insert_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), tail, 2);
  return _mm_shuffle_epi8(v, _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1));
}

template <int C>
void store_pixels4(uint8_t* p, __m128i v) {
  if constexpr (C == 4) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
  } else {
    v = _mm_shuffle_epi8(v, _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), v);
    const int32_t tail = _mm_extract_epi32(v, 2);
    std::memcpy(p + 8, &tail, 4);
  }
}

// 4x4-pixel blocks: four source rows of four pixels are loaded, transposed
// as 32-bit lanes and stored as four destination rows. Blocks go in 32x32
// tiles, so the walk down the source columns stays in L1 while each
// destination row is written in order. Moves 2 x C bytes per pixel.
template <int C, Quarter Q>
void rotate_blocks(const Image& src, Image& dst, int W4, int H4) {
  const int H = src.height, W = src.width;
  constexpr int T = 32;
  for (int i0 = 0; i0 < W4; i0 += T)
    for (int j0 = 0; j0 < H4; j0 += T)
      for (int i = i0; i < std::min(i0 + T, W4); i += 4)
        for (int j = j0; j < std::min(j0 + T, H4); j += 4) {
          // Lane l of the loads holds source column sx(i + l); for the
          // counter-clockwise turn the block starts at sx(i + 3).
          const int lane0 = Q == Quarter::ccw ? i + 3 : i;
          __m128i r[4];
          for (int b = 0; b < 4; ++b) r[b] = load_pixels4<C>(src.pixels.data() + source_offset<Q>(lane0, j + b, H, W, C));
          const __m128i t0 = _mm_unpacklo_epi32(r[0], r[1]), t1 = _mm_unpacklo_epi32(r[2], r[3]);
          const __m128i t2 = _mm_unpackhi_epi32(r[0], r[1]), t3 = _mm_unpackhi_epi32(r[2], r[3]);
          const __m128i out[4] = {_mm_unpacklo_epi64(t0, t1), _mm_unpackhi_epi64(t0, t1), _mm_unpacklo_epi64(t2, t3),
                                  _mm_unpackhi_epi64(t2, t3)};
          for (int l = 0; l < 4; ++l)
            store_pixels4<C>(dst.row(Q == Quarter::ccw ? i + 3 - l : i + l) + int64_t{j} * C, out[l]);
        }
}
#endif

template <int C, Quarter Q>
void rotate_quarter(const Image& src, Image& dst) {
  const int H = src.height, W = src.width;
  int W4 = 0, H4 = 0;  // destination rows [0, W4) and columns [0, H4) done in blocks
#if defined(__SSE4_1__)
  if constexpr (C != 1) {
    W4 = W & ~3;
    H4 = H & ~3;
    rotate_blocks<C, Q>(src, dst, W4, H4);
  }
#endif
  rotate_pixels<C, Q>(src, dst, 0, W4, H4, H);
  rotate_pixels<C, Q>(src, dst, W4, W, 0, H);
}

Image rotate_quarter(const Image& src, Quarter q) {
  Image dst(src.width, src.height, src.channels);
  with_channels("rot90", src.channels, [&]<int C>() {
    switch (q) {
      case Quarter::transpose: rotate_quarter<C, Quarter::transpose>(src, dst); break;
      case Quarter::ccw: rotate_quarter<C, Quarter::ccw>(src, dst); break;
      case Quarter::cw: rotate_quarter<C, Quarter::cw>(src, dst); break;
    }
  });
  return dst;
}

}  // namespace

Image hflip(const Image& src) {
  Image dst(src.height, src.width, src.channels);
  with_channels("hflip", src.channels, [&]<int C>() {
    for (int y = 0; y < src.height; ++y) reverse_pixels<C>(src.row(y), dst.row(y), src.width);
  });
  return dst;
}

Image vflip(const Image& src) {
  Image dst(src.height, src.width, src.channels);
  for (int y = 0; y < src.height; ++y)
    std::memcpy(dst.row(src.height - 1 - y), src.row(y), static_cast<size_t>(src.row_bytes()));
  return dst;
}

Image transpose_image(const Image& src) { return rotate_quarter(src, Quarter::transpose); }

Image rot90(const Image& src, int k) {
  k = ((k % 4) + 4) % 4;
  if (k == 0) return src;
  if (k == 1) return rotate_quarter(src, Quarter::ccw);
  if (k == 3) return rotate_quarter(src, Quarter::cw);
  // Half a turn reverses the whole image's pixel sequence.
  Image dst(src.height, src.width, src.channels);
  with_channels("rot90", src.channels, [&]<int C>() {
    reverse_pixels<C>(src.pixels.data(), dst.pixels.data(), int64_t{src.height} * src.width);
  });
  return dst;
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
