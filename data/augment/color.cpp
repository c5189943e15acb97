// Built with -ffp-contract=off (CMakeLists.txt): PIL's float32 blends are
// separately rounded multiplies and adds, and a fused multiply-add would
// round differently and change some values by one level.
#include "data/augment/color.h"

#include <algorithm>
#include <cmath>
#include <vector>

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
  HsvTables() : hue(3 * 2 * 256 * 256), sat(256 * 256), p(256 * 256) {
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

// rgb_to_hsv through the tables (identical results).
inline void rgb_to_hsv_fast(const HsvTables& T, const uint8_t* in, uint8_t* out) {
  const int r = in[0], g = in[1], b = in[2];
  const int maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b)), cr = maxc - minc;
  out[2] = static_cast<uint8_t>(maxc);
  if (cr == 0) {
    out[0] = out[1] = 0;
    return;
  }
  int branch, m, x;
  if (r == maxc) {
    branch = 0, m = b == minc ? 0 : 1, x = maxc - (m == 0 ? g : b);
  } else if (g == maxc) {
    branch = 1, m = b == minc ? 0 : 1, x = maxc - (m == 0 ? r : b);
  } else {
    branch = 2, m = g == minc ? 0 : 1, x = maxc - (m == 0 ? r : g);
  }
  out[0] = T.hue[((static_cast<size_t>(branch) * 2 + m) * 256 + x) * 256 + cr];
  out[1] = T.sat[static_cast<size_t>(maxc) * 256 + cr];
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
  // PIL: int(mean of the "L" image + 0.5).
  uint64_t sum = 0;
  const size_t n = static_cast<size_t>(src.height) * src.width;
  if (src.channels == 3) {
    for (size_t i = 0; i < n; ++i) sum += static_cast<uint64_t>(pil_grey(&src.pixels[3 * i]));
  } else {
    for (size_t i = 0; i < n; ++i) sum += src.pixels[i];
  }
  const int mean = static_cast<int>(static_cast<double>(sum) / static_cast<double>(n) + 0.5);
  std::array<uint8_t, 256> lut;
  for (int v = 0; v < 256; ++v) lut[static_cast<size_t>(v)] = blend(mean, v, static_cast<float>(factor));
  return apply_lut(src, lut);
}

Image adjust_saturation(const Image& src, double factor) {
  EMBER_CHECK(factor >= 0, "adjust_saturation", "factor must be >= 0, got ", factor);
  check_rgb(src, "adjust_saturation");
  if (src.channels == 1) return src;
  Image dst(src.height, src.width, 3);
  const float a = static_cast<float>(factor);
  // Row by row: each pixel's grey, repeated for its three bytes, then one
  // blend per byte, a loop the compiler vectorises.
  const int64_t n = src.row_bytes();
  std::vector<uint8_t> grey(static_cast<size_t>(n));
  for (int y = 0; y < src.height; ++y) {
    const uint8_t* __restrict s = src.row(y);
    uint8_t* __restrict g = grey.data();
    uint8_t* __restrict d = dst.row(y);
    for (int64_t j = 0; j < n; j += 3) g[j] = g[j + 1] = g[j + 2] = static_cast<uint8_t>(pil_grey(s + j));
    for (int64_t j = 0; j < n; ++j) d[j] = blend(g[j], s[j], a);
  }
  return dst;
}

Image adjust_hue(const Image& src, double hue_factor) {
  EMBER_CHECK(hue_factor >= -0.5 && hue_factor <= 0.5, "adjust_hue", "hue_factor must be in [-0.5, 0.5], got ",
              hue_factor);
  check_rgb(src, "adjust_hue");
  if (src.channels == 1) return src;
  // torchvision: np_h += np.uint8(hue_factor * 255), wrapping mod 256.
  const int shift = static_cast<int>(static_cast<uint8_t>(static_cast<int>(hue_factor * 255)));
  Image dst(src.height, src.width, 3);
  const uint8_t* s = src.pixels.data();
  uint8_t* d = dst.pixels.data();
  uint8_t hsv[3];
  const HsvTables& T = hsv_tables();
  for (size_t i = 0, n = static_cast<size_t>(src.height) * src.width; i < n; ++i, s += 3, d += 3) {
    rgb_to_hsv_fast(T, s, hsv);
    hsv_to_rgb(T, (hsv[0] + shift) & 255, hsv[1], hsv[2], d);
  }
  return dst;
}

Image to_grayscale(const Image& src, int out_channels) {
  EMBER_CHECK(out_channels == 1 || out_channels == 3, "to_grayscale", "out_channels must be 1 or 3");
  Image grey = convert_channels(src, 1);
  return out_channels == 3 ? convert_channels(grey, 3) : grey;
}

Image color_jitter(const Image& src, const ColorJitterParams& p) {
  // Brightness and contrast are tables, so adjacent ones compose into one
  // table applied in a single pass (contrast's mean is taken through the
  // pending table); saturation and hue flush it first. `cur` is the input
  // until the first pass writes `img`; later passes work in place, so the
  // source is never copied for its own sake.
  const Image* cur = &src;
  Image img;
  std::array<uint8_t, 256> lut;
  for (int v = 0; v < 256; ++v) lut[static_cast<size_t>(v)] = static_cast<uint8_t>(v);
  bool pending = false;
  auto flush = [&] {
    if (!pending) return;
    if (cur == &img) {
      for (uint8_t& v : img.pixels) v = lut[v];
    } else {
      img = apply_lut(*cur, lut);
      cur = &img;
    }
    pending = false;
  };
  for (int fn : p.order) {
    switch (fn) {
      case 0:
        if (p.brightness == 1) break;
        EMBER_CHECK(p.brightness >= 0, "color_jitter", "brightness must be >= 0");
        for (uint8_t& v : lut) v = blend(0, v, static_cast<float>(p.brightness));
        pending = true;
        break;
      case 1: {
        if (p.contrast == 1) break;
        EMBER_CHECK(p.contrast >= 0, "color_jitter", "contrast must be >= 0");
        uint64_t sum = 0;
        const size_t n = static_cast<size_t>(cur->height) * cur->width;
        const uint8_t* s = cur->pixels.data();
        if (cur->channels == 3) {
          for (size_t i = 0; i < n; ++i, s += 3) {
            const uint8_t px[3] = {lut[s[0]], lut[s[1]], lut[s[2]]};
            sum += static_cast<uint64_t>(pil_grey(px));
          }
        } else {
          for (size_t i = 0; i < n; ++i) sum += lut[s[i]];
        }
        const int mean = static_cast<int>(static_cast<double>(sum) / static_cast<double>(n) + 0.5);
        for (uint8_t& v : lut) v = blend(mean, v, static_cast<float>(p.contrast));
        pending = true;
        break;
      }
      case 2:
        if (p.saturation == 1) break;
        flush();
        img = adjust_saturation(*cur, p.saturation);
        cur = &img;
        break;
      case 3:
        if (p.hue == 0) break;
        flush();
        img = adjust_hue(*cur, p.hue);
        cur = &img;
        break;
      default: fail("color_jitter", "bad order entry ", fn);
    }
    if (!pending) {
      for (int v = 0; v < 256; ++v) lut[static_cast<size_t>(v)] = static_cast<uint8_t>(v);
    }
  }
  flush();
  return cur == &img ? std::move(img) : src;
}

}  // namespace ember
