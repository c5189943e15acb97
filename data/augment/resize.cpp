#include "data/augment/resize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>
#if defined(__SSSE3__)
#include <immintrin.h>
#endif

#include "engine/error.h"

namespace ember {
namespace {

inline uint8_t clip8(int v) { return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v); }

// --- Nearest (OpenCV) ---
Image resize_nearest(const Image& src, int oh, int ow) {
  const int c = src.channels;
  std::vector<int> xofs(static_cast<size_t>(ow));
  const double ifx = 1.0 / (static_cast<double>(ow) / src.width), ify = 1.0 / (static_cast<double>(oh) / src.height);
  for (int x = 0; x < ow; ++x)
    xofs[static_cast<size_t>(x)] = std::min(static_cast<int>(std::floor(x * ifx)), src.width - 1) * c;
  Image dst(oh, ow, c);
  for (int y = 0; y < oh; ++y) {
    const uint8_t* s = src.row(std::min(static_cast<int>(std::floor(y * ify)), src.height - 1));
    uint8_t* d = dst.row(y);
    for (int x = 0; x < ow; ++x)
      for (int ch = 0; ch < c; ++ch) d[x * c + ch] = s[xofs[static_cast<size_t>(x)] + ch];
  }
  return dst;
}

// --- PIL bilinear (antialiased) ---
constexpr int kPilBits = 22;  // PIL's PRECISION_BITS for 8-bit images

struct Taps {
  std::vector<int> start, count, weights;  // weights: [out][ksize]
  int ksize = 0;
};

Taps pil_taps(int in_size, int out_size) {
  double scale = static_cast<double>(in_size) / out_size, filterscale = std::max(scale, 1.0);
  double support = 1.0 * filterscale;
  Taps t;
  t.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.start.resize(static_cast<size_t>(out_size));
  t.count.resize(static_cast<size_t>(out_size));
  t.weights.assign(static_cast<size_t>(out_size) * t.ksize, 0);
  std::vector<double> k(static_cast<size_t>(t.ksize));
  for (int xx = 0; xx < out_size; ++xx) {
    double center = (xx + 0.5) * scale, ss = 1.0 / filterscale, ww = 0;
    int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    for (int x = 0; x < xmax; ++x) {
      double v = std::abs((x + xmin - center + 0.5) * ss);
      k[static_cast<size_t>(x)] = v < 1.0 ? 1.0 - v : 0.0;
      ww += k[static_cast<size_t>(x)];
    }
    for (int x = 0; x < xmax; ++x) {
      double w = ww != 0.0 ? k[static_cast<size_t>(x)] / ww : k[static_cast<size_t>(x)];
      t.weights[static_cast<size_t>(xx) * t.ksize + x] =
          static_cast<int>(w < 0 ? -0.5 + w * (1 << kPilBits) : 0.5 + w * (1 << kPilBits));
    }
    t.start[static_cast<size_t>(xx)] = xmin;
    t.count[static_cast<size_t>(xx)] = xmax;
  }
  return t;
}

template <int C>
void pil_horizontal(const Image& src, Image& dst, int row0, const Taps& t) {
  for (int y = 0; y < dst.height; ++y) {
    const uint8_t* s = src.row(row0 + y);
    uint8_t* d = dst.row(y);
    int x = 0;
#if defined(__SSE4_1__)
    if constexpr (C == 3 || C == 4) {
      // A pixel's channels in the int32 lanes of one register (RGB reads a
      // fourth byte, the next pixel's, whose lane is never stored): per tap
      // a widening load, a product with the weight and an add, the same
      // integers as the scalar loop below. Stores write 4 bytes, so with
      // RGB the last pixel of the row, and any pixel whose taps would read
      // past the row, go to the scalar loop.
      const int64_t row_end = src.row_bytes();
      const int last = C == 3 ? dst.width - 1 : dst.width;
      for (; x < last; ++x) {
        const int start = t.start[static_cast<size_t>(x)], n = t.count[static_cast<size_t>(x)];
        if (int64_t{start + n} * C + (C == 3 ? 1 : 0) > row_end) break;
        const int* k = &t.weights[static_cast<size_t>(x) * t.ksize];
        const uint8_t* p = s + int64_t{start} * C;
        __m128i acc = _mm_set1_epi32(1 << (kPilBits - 1));
        for (int i = 0; i < n; ++i, p += C) {
          int bytes;
          std::memcpy(&bytes, p, 4);
          acc = _mm_add_epi32(acc, _mm_mullo_epi32(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(bytes)), _mm_set1_epi32(k[i])));
        }
        const __m128i v = _mm_srai_epi32(acc, kPilBits);
        const int out = _mm_cvtsi128_si32(_mm_packus_epi16(_mm_packs_epi32(v, v), v));  // clip8 of each lane
        std::memcpy(d + int64_t{x} * C, &out, 4);
      }
    }
#endif
    for (; x < dst.width; ++x) {
      const int* k = &t.weights[static_cast<size_t>(x) * t.ksize];
      const uint8_t* p = s + int64_t{t.start[static_cast<size_t>(x)]} * C;
      int acc[C];
      for (int ch = 0; ch < C; ++ch) acc[ch] = 1 << (kPilBits - 1);
      for (int i = 0, n = t.count[static_cast<size_t>(x)]; i < n; ++i, p += C)
        for (int ch = 0; ch < C; ++ch) acc[ch] += p[ch] * k[i];
      for (int ch = 0; ch < C; ++ch) d[x * C + ch] = clip8(acc[ch] >> kPilBits);
    }
  }
}

void pil_vertical(const Image& src, Image& dst, const Taps& t, int row_shift) {
  const int64_t n = dst.row_bytes();
  std::vector<int> acc(static_cast<size_t>(n));
  std::vector<const uint8_t*> rows(static_cast<size_t>(t.ksize));
  for (int y = 0; y < dst.height; ++y) {
    const int* k = &t.weights[static_cast<size_t>(y) * t.ksize];
    const int y0 = t.start[static_cast<size_t>(y)] - row_shift, cnt = t.count[static_cast<size_t>(y)];
    for (int i = 0; i < cnt; ++i) rows[static_cast<size_t>(i)] = src.row(y0 + i);
    uint8_t* d = dst.row(y);
    int64_t j = 0;
#if defined(__AVX2__)
    // 16 bytes of the row at a time, their sums kept in two registers over
    // all taps (the loop below keeps them in memory), then clip8 by
    // saturating packs. The same integers.
    for (; j + 16 <= n; j += 16) {
      __m256i lo = _mm256_set1_epi32(1 << (kPilBits - 1)), hi = lo;
      for (int i = 0; i < cnt; ++i) {
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[static_cast<size_t>(i)] + j));
        const __m256i w = _mm256_set1_epi32(k[i]);
        lo = _mm256_add_epi32(lo, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(b), w));
        hi = _mm256_add_epi32(hi, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(b, 8)), w));
      }
      lo = _mm256_srai_epi32(lo, kPilBits);
      hi = _mm256_srai_epi32(hi, kPilBits);
      // packs works within 128-bit lanes: (lo0 hi0 | lo1 hi1) as 16-bit, then bytes.
      const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xd8);
      const __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + j), bytes);
    }
#endif
    if (j == n) continue;
    std::fill(acc.begin() + j, acc.end(), 1 << (kPilBits - 1));
    for (int i = 0; i < cnt; ++i) {
      const uint8_t* s = rows[static_cast<size_t>(i)];
      const int w = k[i];
      for (int64_t jj = j; jj < n; ++jj) acc[static_cast<size_t>(jj)] += s[jj] * w;
    }
    for (int64_t jj = j; jj < n; ++jj) d[jj] = clip8(acc[static_cast<size_t>(jj)] >> kPilBits);
  }
}

Image resize_pil_bilinear(const Image& src, int oh, int ow) {
  const bool need_h = ow != src.width, need_v = oh != src.height;
  Taps th, tv;
  if (need_h) th = pil_taps(src.width, ow);
  if (need_v) tv = pil_taps(src.height, oh);
  Image tmp;
  const Image* mid = &src;
  int row_shift = 0;
  if (need_h) {
    int first = 0, last = src.height;
    if (need_v) {
      first = tv.start.front();
      last = tv.start.back() + tv.count.back();
    }
    tmp = Image(last - first, ow, src.channels);
    switch (src.channels) {
      case 1: pil_horizontal<1>(src, tmp, first, th); break;
      case 3: pil_horizontal<3>(src, tmp, first, th); break;
      case 4: pil_horizontal<4>(src, tmp, first, th); break;
      default: fail("resize", "unsupported channel count ", src.channels);
    }
    mid = &tmp;
    row_shift = first;
  }
  if (!need_v) return need_h ? tmp : src;
  Image dst(oh, ow, src.channels);
  pil_vertical(*mid, dst, tv, row_shift);
  return dst;
}

// --- OpenCV linear (and area-upscale) with 11-bit coefficients ---
constexpr int kCvBits = 11, kCvScale = 1 << kCvBits;

struct LinearAxis {
  std::vector<int> ofs;           // first source index
  std::vector<short> a0, a1;      // weights of ofs and ofs + 1 (clamped)
  std::vector<int> pair;          // (a1 << 16) | a0: both weights as pmaddwd takes them
};

LinearAxis cv_linear_axis(int in, int out, bool area) {
  LinearAxis ax;
  const double scale = static_cast<double>(in) / out, inv_scale = static_cast<double>(out) / in;
  for (int d = 0; d < out; ++d) {
    int sx;
    float fx;
    if (area) {  // OpenCV's INTER_AREA when upscaling
      sx = static_cast<int>(std::floor(d * scale));
      fx = static_cast<float>((d + 1) - (sx + 1) * inv_scale);
      fx = fx <= 0 ? 0.f : fx - std::floor(fx);
    } else {
      fx = static_cast<float>((d + 0.5) * scale - 0.5);
      sx = static_cast<int>(std::floor(fx));
      fx -= static_cast<float>(sx);
    }
    if (sx < 0) fx = 0, sx = 0;
    if (sx >= in - 1) fx = 0, sx = in - 1;
    ax.ofs.push_back(sx);
    ax.a0.push_back(static_cast<short>(std::lrint((1.f - fx) * kCvScale)));
    ax.a1.push_back(static_cast<short>(std::lrint(fx * kCvScale)));
    ax.pair.push_back(static_cast<int>((static_cast<uint32_t>(static_cast<uint16_t>(ax.a1.back())) << 16) |
                                       static_cast<uint16_t>(ax.a0.back())));
  }
  return ax;
}

template <int C>
void cv_horizontal(const uint8_t* s, int* d, int ow, int in_w, const LinearAxis& ax, int x0 = 0) {
  d += int64_t{x0} * C;
  for (int x = x0; x < ow; ++x, d += C) {
    const int o = ax.ofs[static_cast<size_t>(x)], o1 = std::min(o + 1, in_w - 1);
    const int w0 = ax.a0[static_cast<size_t>(x)], w1 = ax.a1[static_cast<size_t>(x)];
    const uint8_t* p0 = s + o * C;
    const uint8_t* p1 = s + o1 * C;
    for (int ch = 0; ch < C; ++ch) d[ch] = p0[ch] * w0 + p1[ch] * w1;
  }
}

// The RGB horizontal pass, one output pixel per few vector instructions:
// an 8-byte load holds the two source pixels, a byte shuffle widens them to
// (r0, r1, g0, g1, b0, b1) in 16 bits and pmaddwd with the (w0, w1) pair
// gives the three sums (the same integers as cv_horizontal). With AVX2, two
// output pixels at a time, one per 128-bit lane. The 16-byte store's fourth
// int is rewritten by the next pixel, so `d` has one spare int at its end;
// pixels whose load would pass the row's end (a suffix, since offsets only
// grow) go through the scalar loop.
void cv_horizontal_rgb(const uint8_t* s, int* d, int ow, int in_w, const LinearAxis& ax) {
  int x = 0;
  const int* ofs = ax.ofs.data();
  const int* pair = ax.pair.data();
#if defined(__AVX2__)
  const __m256i widen2 = _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1,  //
                                          0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
  const __m256i spread = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);  // pixel x's weights to lane 0, x+1's to lane 1
  for (; x + 1 < ow && ofs[x + 1] + 3 <= in_w; x += 2) {
    const __m128i p0 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(s + 3 * ofs[x]));
    const __m128i p1 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(s + 3 * ofs[x + 1]));
    const __m256i px = _mm256_inserti128_si256(_mm256_castsi128_si256(p0), p1, 1);
    const __m256i w = _mm256_permutevar8x32_epi32(
        _mm256_castsi128_si256(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(pair + x))), spread);
    const __m256i sums = _mm256_madd_epi16(_mm256_shuffle_epi8(px, widen2), w);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 3 * x), _mm256_castsi256_si128(sums));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 3 * x + 3), _mm256_extracti128_si256(sums, 1));
  }
#endif
#if defined(__SSSE3__)
  const __m128i widen = _mm_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
  for (; x < ow && ofs[x] + 3 <= in_w; ++x) {
    const __m128i px = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(s + 3 * ofs[x]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 3 * x), _mm_madd_epi16(_mm_shuffle_epi8(px, widen), _mm_set1_epi32(pair[x])));
  }
#endif
  cv_horizontal<3>(s, d, ow, in_w, ax, x);
}

Image resize_cv_linear(const Image& src, int oh, int ow, bool area) {
  const int c = src.channels;
  LinearAxis ax = cv_linear_axis(src.width, ow, area), ay = cv_linear_axis(src.height, oh, area);
  const int64_t n = int64_t{ow} * c;
  // Horizontal pass of a source row into ints scaled by 2^11; two rows kept.
  // One spare int per row for cv_horizontal_rgb's last store.
  std::vector<int> rows[2] = {std::vector<int>(static_cast<size_t>(n) + 1), std::vector<int>(static_cast<size_t>(n) + 1)};
  int cached[2] = {-1, -1};
  auto hrow = [&](int sy, int slot) {
    if (cached[slot] == sy) return;
    if (slot == 1 && cached[0] == sy) {  // the same row twice (the bottom edge)
      rows[1] = rows[0];
      cached[1] = sy;
      return;
    }
    if (slot == 0 && cached[1] == sy) {
      std::swap(rows[0], rows[1]);
      std::swap(cached[0], cached[1]);
      return;
    }
    const uint8_t* s = src.row(sy);
    int* d = rows[slot].data();
    if (c == 3)
      cv_horizontal_rgb(s, d, ow, src.width, ax);
    else if (c == 1)
      cv_horizontal<1>(s, d, ow, src.width, ax);
    else
      cv_horizontal<4>(s, d, ow, src.width, ax);
    cached[slot] = sy;
  };
  Image dst(oh, ow, c);
  for (int y = 0; y < oh; ++y) {
    const int sy = ay.ofs[static_cast<size_t>(y)], sy1 = std::min(sy + 1, src.height - 1);
    hrow(sy, 0);
    hrow(sy1, 1);
    const int b0 = ay.a0[static_cast<size_t>(y)], b1 = ay.a1[static_cast<size_t>(y)];
    const int* r0 = rows[0].data();
    const int* r1 = rows[1].data();
    uint8_t* d = dst.row(y);
    // OpenCV's SIMD rounding: ((b0*(r0>>4))>>16 + (b1*(r1>>4))>>16 + 2) >> 2.
    for (int64_t j = 0; j < n; ++j) d[j] = clip8((((b0 * (r0[j] >> 4)) >> 16) + ((b1 * (r1[j] >> 4)) >> 16) + 2) >> 2);
  }
  return dst;
}

// --- OpenCV area (downscale): exact overlap weights, float ---
struct AreaTap {
  int dst, src;
  float w;
};

std::vector<AreaTap> area_taps(int in, int out) {
  std::vector<AreaTap> tab;
  const double scale = static_cast<double>(in) / out;
  for (int dx = 0; dx < out; ++dx) {
    double fsx1 = dx * scale, fsx2 = fsx1 + scale, cell = std::min(scale, in - fsx1);
    int sx1 = static_cast<int>(std::ceil(fsx1)), sx2 = static_cast<int>(std::floor(fsx2));
    sx2 = std::min(sx2, in - 1);
    sx1 = std::min(sx1, sx2);
    if (sx1 - fsx1 > 1e-3) tab.push_back({dx, sx1 - 1, static_cast<float>((sx1 - fsx1) / cell)});
    for (int sx = sx1; sx < sx2; ++sx) tab.push_back({dx, sx, static_cast<float>(1.0 / cell)});
    if (fsx2 - sx2 > 1e-3)
      tab.push_back({dx, sx2, static_cast<float>(std::min(std::min(fsx2 - sx2, 1.), cell) / cell)});
  }
  return tab;
}

Image resize_area_down(const Image& src, int oh, int ow) {
  const int c = src.channels;
  std::vector<AreaTap> tx = area_taps(src.width, ow), ty = area_taps(src.height, oh);
  const size_t n = static_cast<size_t>(ow) * c;
  std::vector<float> hbuf(n), acc(n);
  Image dst(oh, ow, c);
  size_t k = 0;
  for (int y = 0; y < oh; ++y) {
    std::fill(acc.begin(), acc.end(), 0.f);
    for (; k < ty.size() && ty[k].dst == y; ++k) {
      std::fill(hbuf.begin(), hbuf.end(), 0.f);
      const uint8_t* s = src.row(ty[k].src);
      for (const AreaTap& t : tx)
        for (int ch = 0; ch < c; ++ch) hbuf[static_cast<size_t>(t.dst * c + ch)] += s[t.src * c + ch] * t.w;
      const float wy = ty[k].w;
      for (size_t j = 0; j < n; ++j) acc[j] += hbuf[j] * wy;
    }
    uint8_t* d = dst.row(y);
    for (size_t j = 0; j < n; ++j) d[j] = clip8(static_cast<int>(std::lrint(acc[j])));
  }
  return dst;
}

}  // namespace

Image resize(const Image& src, int out_h, int out_w, Interpolation interp, bool antialias) {
  EMBER_CHECK(out_h > 0 && out_w > 0 && !src.empty(), "resize", "cannot resize a ", src.shape_str(), " image to ",
              out_h, "x", out_w);
  if (out_h == src.height && out_w == src.width) return src;
  switch (interp) {
    case Interpolation::Nearest: return resize_nearest(src, out_h, out_w);
    case Interpolation::Linear:
      return antialias ? resize_pil_bilinear(src, out_h, out_w) : resize_cv_linear(src, out_h, out_w, false);
    case Interpolation::Area:
      if (out_h <= src.height && out_w <= src.width) return resize_area_down(src, out_h, out_w);
      return resize_cv_linear(src, out_h, out_w, true);
    default: fail("resize", "interpolation ", static_cast<int>(interp), " (cubic) is not supported; use 0, 1 or 3");
  }
}

}  // namespace ember
