// Built with -ffp-contract=off (CMakeLists.txt): PIL's float32 blends are
// separately rounded multiplies and adds, and a fused multiply-add would
// round differently and change some values by one level.
#include "data/augment/color.h"

#include <algorithm>
#include <type_traits>
#include <cmath>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define EMBER_COLOR_SIMD 1
#else
#define EMBER_COLOR_SIMD 0
#endif

#include "engine/error.h"

namespace ember {
namespace {

// PIL's Blend: float32 in1 + alpha * (in2 - in1), clipped, truncated
// (written with min/max so that loops over it vectorise).
inline uint8_t blend(int in1, int in2, float alpha) {
  float t = static_cast<float>(in1) + alpha * static_cast<float>(in2 - in1);
  return static_cast<uint8_t>(static_cast<int>(std::min(std::max(t, 0.f), 255.f)));
}

// std::round(num / 255.0) for num >= 0, as PIL computes it, without a
// division or the library call std::round costs. num * (1 / 255.0) is
// within a few ulps of the quotient, so it rounds the same way unless it
// lies within 1e-9 of a half; then the division decides. x - floor(x) is
// exact for x >= 0.
inline int round_div255(double num) {
  double x = num * (1.0 / 255.0), f = std::floor(x);
  if (std::abs(x - f - 0.5) < 1e-9) {
    x = num / 255.0;
    f = std::floor(x);
  }
  return static_cast<int>(f) + (x - f >= 0.5 ? 1 : 0);
}

inline int pil_grey(const uint8_t* p) { return (p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16; }

Image apply_lut(const Image& src, const std::array<uint8_t, 256>& lut) {
  Image dst(src.height, src.width, src.channels);
  const uint8_t* s = src.pixels.data();
  uint8_t* d = dst.pixels.data();
  for (size_t i = 0, n = src.pixels.size(); i < n; ++i) d[i] = lut[s[i]];
  return dst;
}

void check_rgb(const Image& src, const char* op) {
  EMBER_CHECK(src.channels == 3 || src.channels == 1, op, "expects a grey or RGB image, got ", src.shape_str());
}

// PIL's rgb2hsv / hsv2rgb (Convert.c), byte for byte.
inline void rgb_to_hsv(const uint8_t* in, uint8_t* out) {
  const int r = in[0], g = in[1], b = in[2];
  const int maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b));
  uint8_t uh = 0, us = 0;
  if (minc != maxc) {
    const float cr = static_cast<float>(maxc - minc), s = cr / static_cast<float>(maxc);
    const float rc = static_cast<float>(maxc - r) / cr, gc = static_cast<float>(maxc - g) / cr,
                bc = static_cast<float>(maxc - b) / cr;
    float h;
    if (r == maxc)
      h = bc - gc;
    else if (g == maxc)
      h = static_cast<float>(2.0 + rc - bc);  // double arithmetic, as in C
    else
      h = static_cast<float>(4.0 + gc - rc);
    h = static_cast<float>(std::fmod(h / 6.0 + 1.0, 1.0));
    int ih = static_cast<int>(h * 255.0), is = static_cast<int>(s * 255.0);
    uh = static_cast<uint8_t>(std::clamp(ih, 0, 255));
    us = static_cast<uint8_t>(std::clamp(is, 0, 255));
  }
  out[0] = uh;
  out[1] = us;
  out[2] = static_cast<uint8_t>(maxc);
}

// PIL's hue and saturation bytes depend only on (which channel is the
// maximum, which the minimum, max - middle, max - min) and (max, max - min):
// tables of rgb_to_hsv's own results make the conversion two look-ups.
struct HsvTables {
  std::vector<uint8_t> hue;  // [branch 3][min position 2][max - middle 256][max - min 256]
  std::vector<uint8_t> sat;  // [max 256][max - min 256]
  std::vector<uint8_t> p;    // hsv_to_rgb's p: [v 256][s 256]
  std::array<int, 256> i6;   // floor(h * 6 / 255)
  std::array<float, 256> f6; // its fraction
  // hue and sat have 3 spare bytes at the end for 4-byte gathers.
  HsvTables() : hue(3 * 2 * 256 * 256 + 3), sat(256 * 256 + 3), p(256 * 256) {
    uint8_t hsv[3];
    for (int cr = 1; cr < 256; ++cr)
      for (int x = 0; x <= cr; ++x) {
        const uint8_t mid = static_cast<uint8_t>(cr - x), top = static_cast<uint8_t>(cr);
        const uint8_t triples[3][2][3] = {{{top, mid, 0}, {top, 0, mid}},   // red is max: blue / green is min
                                          {{mid, top, 0}, {0, top, mid}},   // green is max: blue / red is min
                                          {{mid, 0, top}, {0, mid, top}}};  // blue is max: green / red is min
        for (int b = 0; b < 3; ++b)
          for (int m = 0; m < 2; ++m) {
            rgb_to_hsv(triples[b][m], hsv);
            hue[((static_cast<size_t>(b) * 2 + m) * 256 + x) * 256 + cr] = hsv[0];
          }
      }
    for (int maxc = 1; maxc < 256; ++maxc)
      for (int cr = 1; cr <= maxc; ++cr) {
        const uint8_t px[3] = {static_cast<uint8_t>(maxc), static_cast<uint8_t>(maxc - cr), static_cast<uint8_t>(maxc - cr)};
        rgb_to_hsv(px, hsv);
        sat[static_cast<size_t>(maxc) * 256 + cr] = hsv[1];
      }
    for (int v = 0; v < 256; ++v)
      for (int sv = 0; sv < 256; ++sv)
        p[static_cast<size_t>(v) * 256 + sv] = static_cast<uint8_t>(
            std::clamp(static_cast<int>(std::round(static_cast<float>(v) * (255.0 - sv) / 255.0)), 0, 255));
    for (int h = 0; h < 256; ++h) {
      i6[static_cast<size_t>(h)] = static_cast<int>(std::floor(static_cast<float>(h) * 6.0 / 255.0));
      f6[static_cast<size_t>(h)] = static_cast<float>(static_cast<float>(h) * 6.0 / 255.0 - static_cast<float>(i6[static_cast<size_t>(h)]));
    }
  }
};

const HsvTables& hsv_tables() {
  static const HsvTables t;
  return t;
}

inline void hsv_to_rgb(const HsvTables& T, int h, int s, int v, uint8_t* out) {
  if (s == 0) {
    out[0] = out[1] = out[2] = static_cast<uint8_t>(v);
    return;
  }
  const int i = T.i6[static_cast<size_t>(h)];
  const float fs = T.f6[static_cast<size_t>(h)] * static_cast<float>(s);
  const uint8_t up = T.p[static_cast<size_t>(v) * 256 + s], uv = static_cast<uint8_t>(v);
  auto q = [&] { return static_cast<uint8_t>(std::clamp(round_div255(static_cast<float>(v) * (255.0 - fs)), 0, 255)); };
  auto t = [&] { return static_cast<uint8_t>(std::clamp(round_div255(static_cast<float>(v) * (255.0 - s + fs)), 0, 255)); };
  switch (i % 6) {
    case 0: out[0] = uv, out[1] = t(), out[2] = up; break;
    case 1: out[0] = q(), out[1] = uv, out[2] = up; break;
    case 2: out[0] = up, out[1] = uv, out[2] = t(); break;
    case 3: out[0] = up, out[1] = q(), out[2] = uv; break;
    case 4: out[0] = t(), out[1] = up, out[2] = uv; break;
    default: out[0] = uv, out[1] = up, out[2] = q(); break;
  }
}

// What hsv_to_rgb needs from a hue byte h, for the branch-free form: PIL's
// sector i = floor(6h / 255) mod 6 decides which of v, p and the third
// value (q in odd sectors, t in even ones) lands in which channel, and f is
// the fraction in q = round(v (255 - f s) / 255), t = round(v (255 - s + f s) / 255).
struct HueSector {
  float f;
  int32_t odd;       // -1 where the third value is q, 0 where it is t
  uint8_t shift[3];  // channel c = bits shift[c]..+7 of v | p << 8 | third << 16
};

struct HueSectors {
  std::array<HueSector, 256> at;
  // The same per sector i = floor(6h / 255) = 0..6 (6 wraps to 0), packed as
  // shift[0..2] | odd << 24, for the SIMD form's in-register look-up.
  alignas(32) std::array<int32_t, 8> by_sector{};
  HueSectors() {
    static constexpr uint8_t shifts[6][3] = {{0, 16, 8}, {16, 0, 8}, {8, 0, 16}, {8, 16, 0}, {16, 8, 0}, {0, 8, 16}};
    const HsvTables& T = hsv_tables();
    for (size_t h = 0; h < 256; ++h) {
      const int i = T.i6[h] % 6;
      at[h].f = T.f6[h];
      at[h].odd = (i & 1) ? -1 : 0;
      for (int c = 0; c < 3; ++c) at[h].shift[c] = shifts[i][c];
      by_sector[static_cast<size_t>(T.i6[h])] = shifts[i][0] | shifts[i][1] << 8 | shifts[i][2] << 16 | (i & 1) << 24;
    }
  }
};

const HueSectors& hue_sectors() {
  static const HueSectors t;
  return t;
}

// The hue table's block (branch * 2 + min position) for each outcome of
// r >= g, g >= b, r >= b (bits 0, 1, 2), in PIL's order of tests: red is the
// maximum if it ties, then green; blue is tested for the minimum before
// green. Grey pixels read the tables' zero column (max - min = 0).
void hue_blocks(int32_t* block) {
  for (int k = 0; k < 8; ++k) {
    const bool ge_rg = k & 1, ge_gb = k & 2, ge_rb = k & 4;
    int b;
    if (ge_rg && ge_rb)
      b = ge_gb ? 0 : 1;
    else if (!ge_rg && ge_gb)
      b = ge_rb ? 2 : 3;
    else
      b = (ge_rg && !ge_gb) ? 4 : 5;
    block[k] = b << 16;
  }
}

void rgb_to_hsv_scalar(const uint8_t* rgb, uint8_t* hsv, size_t n) {
  const HsvTables& T = hsv_tables();
  int32_t block[8];
  hue_blocks(block);
  const uint8_t* hue = T.hue.data();
  const uint8_t* sat = T.sat.data();
  for (size_t i = 0; i < n; ++i, rgb += 3, hsv += 3) {
    // hue = table[block][max - middle][max - min], sat = table[max][max - min]
    const uint32_t r = rgb[0], g = rgb[1], b = rgb[2];
    const uint32_t maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b));
    const uint32_t cr = maxc - minc, x = maxc - (r + g + b - maxc - minc);
    const uint32_t k = static_cast<uint32_t>(r >= g) | static_cast<uint32_t>(g >= b) << 1 | static_cast<uint32_t>(r >= b) << 2;
    hsv[0] = hue[static_cast<uint32_t>(block[k]) + (x << 8) + cr];
    hsv[1] = sat[(maxc << 8) + cr];
    hsv[2] = static_cast<uint8_t>(maxc);
  }
}

// PIL's q and t are round(num / 255) of num = v (255 - f s) or v (255 - s + f s),
// with f s a float >= 1/85 (or 0), hence a multiple of 2^-30: num is exact in
// a double (and, in units of 2^-30, an integer below 2^46), and its quotient
// by 255 is either a half exactly or at least 2^-39 from one, so PIL's double
// division rounds as exact integer arithmetic does.
// p = round(v (255 - s) / 255) never ties (2 v (255 - s) is even, 255 odd).
void hsv_to_rgb_scalar(const uint8_t* hsv, uint8_t* rgb, size_t n, int hue_shift) {
  const HueSectors& H = hue_sectors();
  for (size_t i = 0; i < n; ++i, hsv += 3, rgb += 3) {
    const HueSector& e = H.at[static_cast<uint8_t>(hsv[0] + hue_shift)];
    const int64_t s = hsv[1], v = hsv[2];
    const int64_t fs30 = static_cast<int64_t>(e.f * static_cast<float>(s) * 1073741824.f);
    // odd: 255 - f s; even: 255 - s + f s (in units of 2^-30)
    const int64_t w30 = ((255 - (s & ~static_cast<int64_t>(e.odd))) << 30) + ((fs30 ^ e.odd) - e.odd);
    const uint32_t third = static_cast<uint32_t>(((v * w30 + (int64_t{255} << 29)) >> 30) / 255);
    const uint32_t p = static_cast<uint32_t>((2 * v * (255 - s) + 255) / 510);
    const uint32_t w = static_cast<uint32_t>(v) | p << 8 | third << 16;
    rgb[0] = static_cast<uint8_t>(w >> e.shift[0]);
    rgb[1] = static_cast<uint8_t>(w >> e.shift[1]);
    rgb[2] = static_cast<uint8_t>(w >> e.shift[2]);
  }
}

#if EMBER_COLOR_SIMD
// Eight pixels at a time, one per 32-bit lane: the same arithmetic as the
// scalar forms, with table reads as gathers. Pixels 0-3 travel in the low
// 128-bit half, 4-7 in the high half, as 12 bytes each.
constexpr size_t kSimd = 8;

// Loads 8 packed triples (reads 28 bytes) as three vectors of 32-bit lanes.
inline void load8(const uint8_t* p, __m256i& a, __m256i& b, __m256i& c) {
  const __m256i x = _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 12)), 1);
  const __m256i ka = _mm256_setr_epi8(0, -1, -1, -1, 3, -1, -1, -1, 6, -1, -1, -1, 9, -1, -1, -1,
                                      0, -1, -1, -1, 3, -1, -1, -1, 6, -1, -1, -1, 9, -1, -1, -1);
  a = _mm256_shuffle_epi8(x, ka);
  b = _mm256_shuffle_epi8(x, _mm256_add_epi8(ka, _mm256_set1_epi32(1)));
  c = _mm256_shuffle_epi8(x, _mm256_add_epi8(ka, _mm256_set1_epi32(2)));
}

// Stores three vectors of bytes in 32-bit lanes as 8 packed triples
// (writes 28 bytes; the last 4 are scratch).
inline void store8(uint8_t* p, __m256i a, __m256i b, __m256i c) {
  const __m256i w = _mm256_or_si256(a, _mm256_or_si256(_mm256_slli_epi32(b, 8), _mm256_slli_epi32(c, 16)));
  const __m256i k = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
                                     0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
  const __m256i x = _mm256_shuffle_epi8(w, k);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(x));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p + 12), _mm256_extracti128_si256(x, 1));
}

struct Rgb2HsvSimd {
  const uint8_t* hue = hsv_tables().hue.data();
  __m256i block;
  Rgb2HsvSimd() {
    alignas(32) int32_t b[8];
    hue_blocks(b);
    block = _mm256_load_si256(reinterpret_cast<const __m256i*>(b));
  }
  // PIL's saturation byte, int(float(max - min) / float(max) * 255.0) with
  // the product in double, exact as PIL computes it (0 where max == min).
  static __m256i saturation(__m256i cr, __m256i maxc) {
    const __m256 q = _mm256_div_ps(_mm256_cvtepi32_ps(cr), _mm256_cvtepi32_ps(_mm256_max_epi32(maxc, _mm256_set1_epi32(1))));
    const __m256d k = _mm256_set1_pd(255.0);
    const __m128i lo = _mm256_cvttpd_epi32(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(q)), k));
    const __m128i hi = _mm256_cvttpd_epi32(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(q, 1)), k));
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
  }
  // hue = table[block][max - middle][max - min] (one gather)
  // (r, g, b) in, (h, s, v) out
  void operator()(__m256i& x0, __m256i& x1, __m256i& x2) const {
    const __m256i r = x0, g = x1, b = x2;
    const __m256i maxc = _mm256_max_epi32(r, _mm256_max_epi32(g, b)), minc = _mm256_min_epi32(r, _mm256_min_epi32(g, b));
    const __m256i cr = _mm256_sub_epi32(maxc, minc);
    const __m256i x = _mm256_sub_epi32(_mm256_add_epi32(_mm256_add_epi32(maxc, maxc), minc),
                                       _mm256_add_epi32(r, _mm256_add_epi32(g, b)));  // max - middle
    // k = (r >= g) | (g >= b) << 1 | (r >= b) << 2, from the "greater than" masks
    const __m256i gt = _mm256_or_si256(_mm256_and_si256(_mm256_cmpgt_epi32(g, r), _mm256_set1_epi32(1)),
                                       _mm256_or_si256(_mm256_and_si256(_mm256_cmpgt_epi32(b, g), _mm256_set1_epi32(2)),
                                                       _mm256_and_si256(_mm256_cmpgt_epi32(b, r), _mm256_set1_epi32(4))));
    const __m256i k = _mm256_xor_si256(gt, _mm256_set1_epi32(7));
    const __m256i hi = _mm256_add_epi32(_mm256_permutevar8x32_epi32(block, k), _mm256_add_epi32(_mm256_slli_epi32(x, 8), cr));
    x0 = _mm256_and_si256(_mm256_i32gather_epi32(reinterpret_cast<const int*>(hue), hi, 1), _mm256_set1_epi32(255));
    x1 = saturation(cr, maxc);
    x2 = maxc;
  }
};

struct Hsv2RgbSimd {
  __m256i shift;
  __m256i sectors;  // HueSectors::by_sector
  explicit Hsv2RgbSimd(int hue_shift)
      : shift(_mm256_set1_epi32(hue_shift)),
        sectors(_mm256_load_si256(reinterpret_cast<const __m256i*>(hue_sectors().by_sector.data()))) {}
  // third = floor(num / 255 + 1/2), num = v * (odd ? 255 - f s : 255 - s + f s), in doubles.
  // num is exact and num / 255 is a half exactly or at least 2^-38 from one
  // (see hsv_to_rgb_scalar); one fused multiply-add num * (1 / 255) + 1/2
  // errs by under 2^-43, so adding 2^-41 too rounds exact halves up and
  // moves nothing else across an integer. The sum is positive, so truncation
  // is the floor. sfs is f s, negated where odd.
  static __m128i third4(__m128 sfs, __m128i base, __m128i v) {
    const __m256d num = _mm256_mul_pd(_mm256_cvtepi32_pd(v), _mm256_add_pd(_mm256_cvtepi32_pd(base), _mm256_cvtps_pd(sfs)));
    return _mm256_cvttpd_epi32(_mm256_fmadd_pd(num, _mm256_set1_pd(1.0 / 255.0), _mm256_set1_pd(0.5 + 0x1p-41)));
  }
  // (h, s, v) in, (r, g, b) out
  void operator()(__m256i& x0, __m256i& x1, __m256i& x2) const {
    const __m256i h = x0, s = x1, v = x2;
    const __m256i m = _mm256_set1_epi32(255);
    const __m256i hs = _mm256_and_si256(_mm256_add_epi32(h, shift), m);
    // sector i = floor(6 hs / 255) (z / 255 = (z * 0x8081) >> 23 for z < 2^16),
    // f = (6 hs - 255 i) / 255 rounded to float, as PIL's float of the double h * 6 / 255 - i
    const __m256i h6 = _mm256_add_epi32(_mm256_slli_epi32(hs, 2), _mm256_slli_epi32(hs, 1));
    const __m256i i = _mm256_srli_epi32(_mm256_mulhi_epu16(h6, _mm256_set1_epi32(0x8081)), 7);
    const __m256i rem = _mm256_add_epi32(_mm256_sub_epi32(h6, _mm256_slli_epi32(i, 8)), i);  // 6 hs - 255 i
    const __m256 f = _mm256_div_ps(_mm256_cvtepi32_ps(rem), _mm256_set1_ps(255.f));
    const __m256i info = _mm256_permutevar8x32_epi32(sectors, i);
    const __m256 fs = _mm256_mul_ps(f, _mm256_cvtepi32_ps(s));
    // odd sectors: 255 - f s; even ones: 255 - s + f s
    const __m256i odd = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_srli_epi32(info, 24));  // -1 or 0
    const __m256 sfs = _mm256_xor_ps(fs, _mm256_castsi256_ps(_mm256_slli_epi32(odd, 31)));
    const __m256i base = _mm256_sub_epi32(m, _mm256_andnot_si256(odd, s));
    const __m256i third = _mm256_inserti128_si256(
        _mm256_castsi128_si256(third4(_mm256_castps256_ps128(sfs), _mm256_castsi256_si128(base), _mm256_castsi256_si128(v))),
        third4(_mm256_extractf128_ps(sfs, 1), _mm256_extracti128_si256(base, 1), _mm256_extracti128_si256(v, 1)), 1);
    // p = floor((v (255 - s) + 127) / 255); z / 255 = (z * 0x8081) >> 23 for z < 2^16
    const __m256i z = _mm256_add_epi32(_mm256_mullo_epi16(v, _mm256_sub_epi32(m, s)), _mm256_set1_epi32(127));
    const __m256i p = _mm256_srli_epi32(_mm256_mulhi_epu16(z, _mm256_set1_epi32(0x8081)), 7);
    const __m256i w = _mm256_or_si256(v, _mm256_or_si256(_mm256_slli_epi32(p, 8), _mm256_slli_epi32(third, 16)));
    x0 = _mm256_and_si256(_mm256_srlv_epi32(w, _mm256_and_si256(info, m)), m);
    x1 = _mm256_and_si256(_mm256_srlv_epi32(w, _mm256_and_si256(_mm256_srli_epi32(info, 8), m)), m);
    x2 = _mm256_and_si256(_mm256_srlv_epi32(w, _mm256_and_si256(_mm256_srli_epi32(info, 16), m)), m);
  }
};

// Pixels [0, simd_end(n)) go 8 at a time with 4 bytes to spare after them.
inline size_t simd_end(size_t n) { return n >= 10 ? (n - 2) / kSimd * kSimd : 0; }

// Maps packed triples in -> out through fn (three vectors, in place), 8 at
// a time, as far as simd_end(n); returns that count for a scalar tail.
template <class Fn>
size_t map_triples8(const uint8_t* in, uint8_t* out, size_t n, const Fn& fn) {
  const size_t end = simd_end(n);
  for (size_t i = 0; i < end; i += kSimd) {
    __m256i a, b, c;
    load8(in + 3 * i, a, b, c);
    fn(a, b, c);
    store8(out + 3 * i, a, b, c);
  }
  return end;
}
#else
inline size_t simd_end(size_t) { return 0; }
#endif

}  // namespace

namespace pil_hsv {

void rgb_to_hsv_reference(const uint8_t* rgb, uint8_t* hsv) { rgb_to_hsv(rgb, hsv); }

void hsv_to_rgb_reference(const uint8_t* hsv, uint8_t* rgb) { hsv_to_rgb(hsv_tables(), hsv[0], hsv[1], hsv[2], rgb); }

void rgb_to_hsv_fast(const uint8_t* rgb, uint8_t* hsv, size_t n) {
  size_t i = 0;
#if EMBER_COLOR_SIMD
  i = map_triples8(rgb, hsv, n, Rgb2HsvSimd());
#endif
  rgb_to_hsv_scalar(rgb + 3 * i, hsv + 3 * i, n - i);
}

void hsv_to_rgb_fast(const uint8_t* hsv, uint8_t* rgb, size_t n, int hue_shift) {
  size_t i = 0;
#if EMBER_COLOR_SIMD
  i = map_triples8(hsv, rgb, n, Hsv2RgbSimd(hue_shift));
#endif
  hsv_to_rgb_scalar(hsv + 3 * i, rgb + 3 * i, n - i, hue_shift);
}

void rgb_to_hsv_portable(const uint8_t* rgb, uint8_t* hsv, size_t n) { rgb_to_hsv_scalar(rgb, hsv, n); }
void hsv_to_rgb_portable(const uint8_t* hsv, uint8_t* rgb, size_t n, int hue_shift) {
  hsv_to_rgb_scalar(hsv, rgb, n, hue_shift);
}

}  // namespace pil_hsv

namespace {

// PIL's grey (mode "L") of 8 pixels in 32-bit lanes:
// (19595 r + 38470 g + 7471 b + 2^15) >> 16.
#if EMBER_COLOR_SIMD
inline __m256i grey8(__m256i r, __m256i g, __m256i b) {
  return _mm256_srli_epi32(
      _mm256_add_epi32(_mm256_add_epi32(_mm256_mullo_epi32(r, _mm256_set1_epi32(19595)), _mm256_mullo_epi32(g, _mm256_set1_epi32(38470))),
                       _mm256_add_epi32(_mm256_mullo_epi32(b, _mm256_set1_epi32(7471)), _mm256_set1_epi32(0x8000))),
      16);
}

// blend() of 8 lanes: float32 in1 + alpha * (in2 - in1), clipped, truncated.
inline __m256i blend8(__m256i in1, __m256i in2, __m256 alpha) {
  const __m256 t = _mm256_add_ps(_mm256_cvtepi32_ps(in1), _mm256_mul_ps(alpha, _mm256_cvtepi32_ps(_mm256_sub_epi32(in2, in1))));
  return _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(t, _mm256_setzero_ps()), _mm256_set1_ps(255.f)));
}

// Stores three vectors of bytes in 32-bit lanes as exactly 8 packed triples
// (24 bytes), so that a pass may write over the pixels it is reading.
inline void store8_exact(uint8_t* p, __m256i a, __m256i b, __m256i c) {
  const __m256i w = _mm256_or_si256(a, _mm256_or_si256(_mm256_slli_epi32(b, 8), _mm256_slli_epi32(c, 16)));
  const __m256i k = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
                                     0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
  const __m256i x = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(w, k), _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(x));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p + 16), _mm256_extracti128_si256(x, 1));
}
#endif

// The sum of PIL's grey over n packed RGB pixels (contrast's mean).
uint64_t pil_grey_sum(const uint8_t* rgb, size_t n) {
  size_t i = 0;
  uint64_t total = 0;
#if EMBER_COLOR_SIMD
  __m256i acc = _mm256_setzero_si256();  // 8 sums of at most 2^16 greys each, then flushed
  const size_t end = simd_end(n);
  while (i < end) {
    for (const size_t stop = std::min(end, i + kSimd * 65536); i < stop; i += kSimd) {
      __m256i r, g, b;
      load8(rgb + 3 * i, r, g, b);
      acc = _mm256_add_epi32(acc, grey8(r, g, b));
    }
    alignas(32) uint32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc);
    for (uint32_t v : lanes) total += v;
    acc = _mm256_setzero_si256();
  }
#endif
  for (; i < n; ++i) total += static_cast<uint64_t>(pil_grey(rgb + 3 * i));
  return total;
}

// One adjustment in a fused colour pass over RGB pixels.
struct ColorStep {
  enum Kind { kBlendToward, kSaturation, kHue } kind;
  float factor = 1;  // the blend factor (brightness, contrast, saturation)
  int toward = 0;    // kBlendToward: the grey blended toward (0 for brightness, the mean for contrast)
  int hue_shift = 0; // kHue: added to PIL's hue byte, mod 256
};

void apply_steps_scalar(const ColorStep* steps, size_t count, uint8_t* px) {
  for (size_t k = 0; k < count; ++k) {
    const ColorStep& s = steps[k];
    switch (s.kind) {
      case ColorStep::kBlendToward:
        for (int c = 0; c < 3; ++c) px[c] = blend(s.toward, px[c], s.factor);
        break;
      case ColorStep::kSaturation: {
        const int g = pil_grey(px);
        for (int c = 0; c < 3; ++c) px[c] = blend(g, px[c], s.factor);
        break;
      }
      case ColorStep::kHue: {
        uint8_t hsv[3];
        rgb_to_hsv_scalar(px, hsv, 1);
        hsv_to_rgb_scalar(hsv, px, 1, s.hue_shift);
        break;
      }
    }
  }
}

// Runs `steps` in order over n packed RGB pixels from src to dst (which may
// be src itself): every pixel goes through all of them while it is in
// registers, so ColorJitter reads and writes the image once (twice where
// contrast, which needs the mean grey of the image before it, comes after
// another adjustment). Returns the sum of the output's PIL grey values if
// kSum, else 0.
template <bool kSum>
uint64_t run_color_pass(const uint8_t* src, uint8_t* dst, size_t n, const std::vector<ColorStep>& steps, bool simd) {
  size_t i = 0;
  uint64_t total = 0;
#if EMBER_COLOR_SIMD
  if (simd) {
    struct Prepared {
      ColorStep::Kind kind;
      __m256 factor;
      __m256i toward;
      Hsv2RgbSimd to_rgb;
    };
    std::vector<Prepared> prep;
    for (const ColorStep& s : steps)
      prep.push_back({s.kind, _mm256_set1_ps(s.factor), _mm256_set1_epi32(s.toward), Hsv2RgbSimd(s.hue_shift)});
    const Rgb2HsvSimd to_hsv;
    __m256i acc = _mm256_setzero_si256();
    const size_t end = simd_end(n);
    while (i < end) {
      // G groups of 8 pixels side by side: one group's hue conversion is a
      // long chain of dependent steps (a gather, divisions, conversions to
      // double), and with four interleaved the core overlaps them (1.4x
      // faster than one at a time here).
      const size_t stop = std::min(end, i + kSimd * 65536);
      auto groups = [&]<int G>(std::integral_constant<int, G>) {
        __m256i r[G], g[G], b[G];
        for (int j = 0; j < G; ++j) load8(src + 3 * (i + j * kSimd), r[j], g[j], b[j]);
        for (const Prepared& s : prep) {
          switch (s.kind) {
            case ColorStep::kBlendToward:
              for (int j = 0; j < G; ++j) {
                r[j] = blend8(s.toward, r[j], s.factor);
                g[j] = blend8(s.toward, g[j], s.factor);
                b[j] = blend8(s.toward, b[j], s.factor);
              }
              break;
            case ColorStep::kSaturation:
              for (int j = 0; j < G; ++j) {
                const __m256i y = grey8(r[j], g[j], b[j]);
                r[j] = blend8(y, r[j], s.factor), g[j] = blend8(y, g[j], s.factor), b[j] = blend8(y, b[j], s.factor);
              }
              break;
            case ColorStep::kHue:
              for (int j = 0; j < G; ++j) to_hsv(r[j], g[j], b[j]);
              for (int j = 0; j < G; ++j) s.to_rgb(r[j], g[j], b[j]);
              break;
          }
        }
        for (int j = 0; j < G; ++j) {
          if constexpr (kSum) acc = _mm256_add_epi32(acc, grey8(r[j], g[j], b[j]));
          store8_exact(dst + 3 * (i + j * kSimd), r[j], g[j], b[j]);
        }
        i += G * kSimd;
      };
      while (i + 4 * kSimd <= stop) groups(std::integral_constant<int, 4>{});
      while (i < stop) groups(std::integral_constant<int, 1>{});
      alignas(32) uint32_t lanes[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc);
      for (uint32_t v : lanes) total += v;
      acc = _mm256_setzero_si256();
    }
  }
#endif
  for (; i < n; ++i) {
    uint8_t px[3] = {src[3 * i], src[3 * i + 1], src[3 * i + 2]};
    apply_steps_scalar(steps.data(), steps.size(), px);
    std::copy(px, px + 3, dst + 3 * i);
    if constexpr (kSum) total += static_cast<uint64_t>(pil_grey(px));
  }
  return total;
}

// PIL's contrast reference: int(mean of the "L" image + 0.5).
int mean_grey(uint64_t sum, size_t n) { return static_cast<int>(static_cast<double>(sum) / static_cast<double>(n) + 0.5); }

// ColorJitter on an RGB image as fused passes: the adjustments in p's order
// accumulate into one pass until a contrast adjustment, which needs the
// mean grey of the image so far; the pass up to it also returns that sum.
Image color_jitter_rgb(const Image& src, const ColorJitterParams& p, bool simd) {
  const size_t n = static_cast<size_t>(src.height) * src.width;
  const Image* cur = &src;
  Image img;
  std::vector<ColorStep> steps;
  auto run = [&](bool sum) -> uint64_t {
    if (steps.empty()) return sum ? pil_grey_sum(cur->pixels.data(), n) : 0;
    if (cur != &img) img = Image(src.height, src.width, 3);
    const uint8_t* in = cur->pixels.data();
    uint8_t* out = img.pixels.data();
    const uint64_t total = sum ? run_color_pass<true>(in, out, n, steps, simd) : run_color_pass<false>(in, out, n, steps, simd);
    cur = &img;
    steps.clear();
    return total;
  };
  for (int fn : p.order) {
    switch (fn) {
      case 0:
        if (p.brightness == 1) break;
        EMBER_CHECK(p.brightness >= 0, "color_jitter", "brightness must be >= 0, got ", p.brightness);
        steps.push_back({ColorStep::kBlendToward, static_cast<float>(p.brightness), 0, 0});
        break;
      case 1:
        if (p.contrast == 1) break;
        EMBER_CHECK(p.contrast >= 0, "color_jitter", "contrast must be >= 0, got ", p.contrast);
        steps.push_back({ColorStep::kBlendToward, static_cast<float>(p.contrast), mean_grey(run(true), n), 0});
        break;
      case 2:
        if (p.saturation == 1) break;
        EMBER_CHECK(p.saturation >= 0, "color_jitter", "saturation must be >= 0, got ", p.saturation);
        steps.push_back({ColorStep::kSaturation, static_cast<float>(p.saturation), 0, 0});
        break;
      case 3:
        if (p.hue == 0) break;
        EMBER_CHECK(p.hue >= -0.5 && p.hue <= 0.5, "color_jitter", "hue must be in [-0.5, 0.5], got ", p.hue);
        // torchvision: np_h += np.uint8(hue_factor * 255), wrapping mod 256.
        steps.push_back({ColorStep::kHue, 1, 0, static_cast<int>(static_cast<uint8_t>(static_cast<int>(p.hue * 255)))});
        break;
      default: fail("color_jitter", "bad order entry ", fn);
    }
  }
  run(false);
  return cur == &img ? std::move(img) : src;
}

// ColorJitter on a grey image: brightness and contrast (saturation and hue
// leave grey unchanged), a table pass each.
Image color_jitter_grey(const Image& src, const ColorJitterParams& p) {
  Image img = src;
  std::array<uint8_t, 256> lut;
  for (int fn : p.order) {
    int toward = 0;
    double factor = 1;
    if (fn == 0) {
      factor = p.brightness;
      EMBER_CHECK(factor >= 0, "color_jitter", "brightness must be >= 0, got ", factor);
    } else if (fn == 1) {
      factor = p.contrast;
      EMBER_CHECK(factor >= 0, "color_jitter", "contrast must be >= 0, got ", factor);
      if (factor != 1) {
        uint64_t sum = 0;
        for (uint8_t v : img.pixels) sum += v;
        toward = mean_grey(sum, img.pixels.size());
      }
    } else {
      EMBER_CHECK(fn == 2 || fn == 3, "color_jitter", "bad order entry ", fn);
    }
    if (factor == 1) continue;
    for (int v = 0; v < 256; ++v) lut[static_cast<size_t>(v)] = blend(toward, v, static_cast<float>(factor));
    for (uint8_t& v : img.pixels) v = lut[v];
  }
  return img;
}

Image color_jitter_impl(const Image& src, const ColorJitterParams& p, bool simd) {
  EMBER_CHECK(src.channels == 3 || src.channels == 1, "color_jitter", "expects a grey or RGB image, got ", src.shape_str());
  if (src.pixels.empty()) return src;  // no pixels: no mean grey for contrast either
  return src.channels == 3 ? color_jitter_rgb(src, p, simd) : color_jitter_grey(src, p);
}

}  // namespace

Image adjust_brightness(const Image& src, double factor) {
  EMBER_CHECK(factor >= 0, "adjust_brightness", "factor must be >= 0, got ", factor);
  std::array<uint8_t, 256> lut;
  for (int v = 0; v < 256; ++v) lut[static_cast<size_t>(v)] = blend(0, v, static_cast<float>(factor));
  return apply_lut(src, lut);
}

Image adjust_contrast(const Image& src, double factor) {
  EMBER_CHECK(factor >= 0, "adjust_contrast", "factor must be >= 0, got ", factor);
  check_rgb(src, "adjust_contrast");
  ColorJitterParams p;
  p.contrast = factor;
  return color_jitter_impl(src, p, true);
}

Image adjust_saturation(const Image& src, double factor) {
  EMBER_CHECK(factor >= 0, "adjust_saturation", "factor must be >= 0, got ", factor);
  check_rgb(src, "adjust_saturation");
  ColorJitterParams p;
  p.saturation = factor;
  return color_jitter_impl(src, p, true);
}

Image adjust_hue(const Image& src, double hue_factor) {
  EMBER_CHECK(hue_factor >= -0.5 && hue_factor <= 0.5, "adjust_hue", "hue_factor must be in [-0.5, 0.5], got ",
              hue_factor);
  check_rgb(src, "adjust_hue");
  ColorJitterParams p;
  p.hue = hue_factor;
  return color_jitter_impl(src, p, true);
}

Image to_grayscale(const Image& src, int out_channels) {
  EMBER_CHECK(out_channels == 1 || out_channels == 3, "to_grayscale", "out_channels must be 1 or 3");
  Image grey = convert_channels(src, 1);
  return out_channels == 3 ? convert_channels(grey, 3) : grey;
}

Image color_jitter(const Image& src, const ColorJitterParams& p) { return color_jitter_impl(src, p, true); }

Image color_jitter_portable(const Image& src, const ColorJitterParams& p) { return color_jitter_impl(src, p, false); }

}  // namespace ember
