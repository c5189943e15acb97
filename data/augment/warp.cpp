#include "data/augment/warp.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#if defined(__SSSE3__)
#include <immintrin.h>
#endif

#include "engine/error.h"

namespace ember {
namespace {

constexpr int kInterBits = 5, kTab = 1 << kInterBits;  // 1/32 pixel
constexpr int kCoefBits = 15;
constexpr int kAbBits = 10, kAbScale = 1 << kAbBits;

// Bilinear weights for each (fy, fx) in 1/32 steps, scaled by 2^15.
struct BilinearTable {
  std::array<std::array<int, 4>, kTab * kTab> w;
  BilinearTable() {
    for (int i = 0; i < kTab; ++i)
      for (int j = 0; j < kTab; ++j) {
        int fy = i, fx = j;
        w[static_cast<size_t>(i * kTab + j)] = {(kTab - fy) * (kTab - fx) * 32, (kTab - fy) * fx * 32,
                                                fy * (kTab - fx) * 32, fy * fx * 32};
      }
  }
};
const BilinearTable& table() {
  static const BilinearTable t;
  return t;
}

inline uint8_t clip8(int v) { return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v); }

#if defined(__SSSE3__)
// Bilinear RGB pixel from two 8-byte loads (pixels (sx, sx+1) of rows sy and
// sy+1): byte shuffles widen each row to (r0, r1, g0, g1, b0, b1) in 16 bits
// and pmaddwd sums them with the weight pairs. A weight is 32 * a * b with
// a, b <= 32, and 32 * 32 * 32 does not fit a 16-bit lane, so the lanes
// hold a * b and the rounding shift drops 5 bits fewer: (32 S + 2^14) >> 15
// equals (S + 2^9) >> 10. The caller keeps sx + 3 <= width.
inline void bilinear_rgb(const uint8_t* p0, const uint8_t* p1, int frac, uint8_t* d) {
  const int fy = frac >> kInterBits, fx = frac & (kTab - 1);
  const __m128i widen = _mm_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
  const __m128i top = _mm_shuffle_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p0)), widen);
  const __m128i bottom = _mm_shuffle_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p1)), widen);
  const __m128i wt = _mm_set1_epi32(((kTab - fy) * fx << 16) | ((kTab - fy) * (kTab - fx)));
  const __m128i wb = _mm_set1_epi32((fy * fx << 16) | (fy * (kTab - fx)));
  __m128i sum = _mm_add_epi32(_mm_madd_epi16(top, wt), _mm_madd_epi16(bottom, wb));
  sum = _mm_srai_epi32(_mm_add_epi32(sum, _mm_set1_epi32(1 << 9)), 10);
  const uint32_t v = static_cast<uint32_t>(_mm_cvtsi128_si32(_mm_packus_epi16(_mm_packs_epi32(sum, sum), sum)));
  std::memcpy(d, &v, 3);
}
#endif

// Writes one output pixel from source position (sx + fx/32, sy + fy/32).
// Always inlined: a call per pixel costs about as much as the pixel.
template <int C>
[[gnu::always_inline]] inline void sample_linear(const Image& src, int sx, int sy, int frac, BorderMode border,
                          const std::array<uint8_t, 4>& value, uint8_t* d) {
  const std::array<int, 4>& w = table().w[static_cast<size_t>(frac)];
  const int W = src.width, H = src.height;
  auto mix = [&](const uint8_t* a, const uint8_t* b, const uint8_t* c, const uint8_t* e, int ch) {
    return clip8((a[ch] * w[0] + b[ch] * w[1] + c[ch] * w[2] + e[ch] * w[3] + (1 << (kCoefBits - 1))) >> kCoefBits);
  };
  if (static_cast<unsigned>(sx) < static_cast<unsigned>(W - 1) && static_cast<unsigned>(sy) < static_cast<unsigned>(H - 1)) {
    const uint8_t* p0 = src.row(sy) + sx * C;
    const uint8_t* p1 = p0 + src.row_bytes();
#if defined(__SSSE3__)
    if constexpr (C == 3) {
      if (sx + 3 <= W) return bilinear_rgb(p0, p1, frac, d);
    }
#endif
    for (int c = 0; c < C; ++c) d[c] = mix(p0, p0 + C, p1, p1 + C, c);
    return;
  }
  if (border == BorderMode::Constant && (sx >= W || sx + 1 < 0 || sy >= H || sy + 1 < 0)) {
    for (int c = 0; c < C; ++c) d[c] = value[static_cast<size_t>(c)];
    return;
  }
  const int x0 = border_index(sx, W, border), x1 = border_index(sx + 1, W, border);
  const int y0 = border_index(sy, H, border), y1 = border_index(sy + 1, H, border);
  if (x0 >= 0 && x1 >= 0 && y0 >= 0 && y1 >= 0) {  // every tap inside: no fill value to mix in
    const uint8_t *r0 = src.row(y0), *r1 = src.row(y1);
    for (int c = 0; c < C; ++c) d[c] = mix(r0 + x0 * C, r0 + x1 * C, r1 + x0 * C, r1 + x1 * C, c);
    return;
  }
  for (int c = 0; c < C; ++c) {
    auto tap = [&](int y, int x) { return (x < 0 || y < 0) ? value[static_cast<size_t>(c)] : src.row(y)[x * C + c]; };
    d[c] = clip8((tap(y0, x0) * w[0] + tap(y0, x1) * w[1] + tap(y1, x0) * w[2] + tap(y1, x1) * w[3] +
                  (1 << (kCoefBits - 1))) >>
                 kCoefBits);
  }
}

template <int C>
inline void sample_nearest(const Image& src, int sx, int sy, BorderMode border, const std::array<uint8_t, 4>& value,
                           uint8_t* d) {
  int x = border_index(sx, src.width, border), y = border_index(sy, src.height, border);
  if (x < 0 || y < 0) {
    for (int c = 0; c < C; ++c) d[c] = value[static_cast<size_t>(c)];
    return;
  }
  const uint8_t* p = src.row(y) + x * C;
  for (int c = 0; c < C; ++c) d[c] = p[c];
}

template <int C>
Image warp_affine_c(const Image& src, const Affine2x3& fwd, int oh, int ow, Interpolation interp, BorderMode border,
                    const std::array<uint8_t, 4>& value) {
  const Affine2x3 M = invert_affine(fwd);
  const bool linear = interp != Interpolation::Nearest;
  const int round_delta = linear ? kAbScale / kTab / 2 : kAbScale / 2;
  std::vector<int> adelta(static_cast<size_t>(ow)), bdelta(static_cast<size_t>(ow));
  for (int x = 0; x < ow; ++x) {
    adelta[static_cast<size_t>(x)] = static_cast<int>(std::lrint(M[0] * x * kAbScale));
    bdelta[static_cast<size_t>(x)] = static_cast<int>(std::lrint(M[3] * x * kAbScale));
  }
  Image dst(oh, ow, C);
  // Output in 64 x 64 tiles: a rotated row walks across many source rows,
  // and a tile keeps the source pixels it reads (about 64 rows of a few
  // cache lines) in cache for its next rows, as cv::warpAffine's blocks do.
  constexpr int kTile = 64;
  for (int ty = 0; ty < oh; ty += kTile)
    for (int tx = 0; tx < ow; tx += kTile)
      for (int y = ty; y < std::min(ty + kTile, oh); ++y) {
        const int X0 = static_cast<int>(std::lrint((M[1] * y + M[2]) * kAbScale)) + round_delta;
        const int Y0 = static_cast<int>(std::lrint((M[4] * y + M[5]) * kAbScale)) + round_delta;
        uint8_t* d = dst.row(y) + int64_t{tx} * C;
        for (int x = tx; x < std::min(tx + kTile, ow); ++x, d += C) {
          if (linear) {
            const int X = (X0 + adelta[static_cast<size_t>(x)]) >> (kAbBits - kInterBits);
            const int Y = (Y0 + bdelta[static_cast<size_t>(x)]) >> (kAbBits - kInterBits);
            sample_linear<C>(src, X >> kInterBits, Y >> kInterBits, (Y & (kTab - 1)) * kTab + (X & (kTab - 1)), border,
                             value, d);
          } else {
            sample_nearest<C>(src, (X0 + adelta[static_cast<size_t>(x)]) >> kAbBits,
                              (Y0 + bdelta[static_cast<size_t>(x)]) >> kAbBits, border, value, d);
          }
        }
      }
  return dst;
}

template <int C>
Image remap_c(const Image& src, const std::vector<float>& mx, const std::vector<float>& my, int oh, int ow,
              Interpolation interp, BorderMode border, const std::array<uint8_t, 4>& value) {
  Image dst(oh, ow, C);
  const bool linear = interp != Interpolation::Nearest;
  for (int y = 0; y < oh; ++y) {
    uint8_t* d = dst.row(y);
    const float* px = mx.data() + static_cast<size_t>(y) * ow;
    const float* py = my.data() + static_cast<size_t>(y) * ow;
    for (int x = 0; x < ow; ++x, d += C) {
      if (linear) {
        const int X = static_cast<int>(std::lrint(px[x] * kTab)), Y = static_cast<int>(std::lrint(py[x] * kTab));
        sample_linear<C>(src, X >> kInterBits, Y >> kInterBits, (Y & (kTab - 1)) * kTab + (X & (kTab - 1)), border,
                         value, d);
      } else {
        sample_nearest<C>(src, static_cast<int>(std::lrint(px[x])), static_cast<int>(std::lrint(py[x])), border, value,
                          d);
      }
    }
  }
  return dst;
}

}  // namespace

Affine2x3 invert_affine(const Affine2x3& m) {
  double D = m[0] * m[4] - m[1] * m[3];
  D = D != 0 ? 1.0 / D : 0.0;
  const double A11 = m[4] * D, A22 = m[0] * D, A12 = -m[1] * D, A21 = -m[3] * D;
  return {A11, A12, -A11 * m[2] - A12 * m[5], A21, A22, -A21 * m[2] - A22 * m[5]};
}

Affine2x3 rotation_matrix(double cx, double cy, double angle_deg, double scale) {
  const double a = angle_deg * M_PI / 180.0, alpha = std::cos(a) * scale, beta = std::sin(a) * scale;
  return {alpha, beta, (1 - alpha) * cx - beta * cy, -beta, alpha, beta * cx + (1 - alpha) * cy};
}

Image warp_affine(const Image& src, const Affine2x3& m, int out_h, int out_w, Interpolation interp, BorderMode border,
                  std::array<uint8_t, 4> value) {
  EMBER_CHECK(interp == Interpolation::Nearest || interp == Interpolation::Linear, "warp_affine",
              "interpolation must be nearest (0) or linear (1)");
  switch (src.channels) {
    case 1: return warp_affine_c<1>(src, m, out_h, out_w, interp, border, value);
    case 3: return warp_affine_c<3>(src, m, out_h, out_w, interp, border, value);
    case 4: return warp_affine_c<4>(src, m, out_h, out_w, interp, border, value);
    default: fail("warp_affine", "unsupported channel count ", src.channels);
  }
}

Image remap(const Image& src, const std::vector<float>& map_x, const std::vector<float>& map_y, int out_h, int out_w,
            Interpolation interp, BorderMode border, std::array<uint8_t, 4> value) {
  EMBER_CHECK(map_x.size() == static_cast<size_t>(out_h) * out_w && map_y.size() == map_x.size(), "remap",
              "maps must have ", out_h, "x", out_w, " entries");
  switch (src.channels) {
    case 1: return remap_c<1>(src, map_x, map_y, out_h, out_w, interp, border, value);
    case 3: return remap_c<3>(src, map_x, map_y, out_h, out_w, interp, border, value);
    case 4: return remap_c<4>(src, map_x, map_y, out_h, out_w, interp, border, value);
    default: fail("remap", "unsupported channel count ", src.channels);
  }
}

}  // namespace ember
