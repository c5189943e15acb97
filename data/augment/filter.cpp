#include "data/augment/filter.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>

#include "data/augment/border.h"
#include "data/augment/geometry.h"
#include "engine/error.h"

namespace ember {
namespace {

// Rounds half to even and saturates to [0, 255], as cv::saturate_cast of a
// float (lrint). std::rint compiles to one vector rounding instruction
// (SSE4.1's roundps), where lrint would stay a scalar conversion.
inline uint8_t round_to_u8(float v) { return static_cast<uint8_t>(static_cast<int>(std::rint(std::clamp(v, 0.f, 255.f)))); }

// OpenCV's small_gaussian_tab in 1/256 steps (sigma <= 0).
const std::vector<int>* small_gaussian(int ksize) {
  static const std::vector<int> k1{256}, k3{64, 128, 64}, k5{16, 64, 96, 64, 16}, k7{8, 28, 56, 72, 56, 28, 8};
  switch (ksize) {
    case 1: return &k1;
    case 3: return &k3;
    case 5: return &k5;
    case 7: return &k7;
    default: return nullptr;
  }
}

// Drives a separable filter of odd size k over an image padded by k / 2 on
// every side: each padded row goes through `hrow` once, into a ring of k
// rows of type T that stays in L1/L2, and each output row is `vrow` of the
// k ring rows it needs, top to bottom.
template <class T, class HRow, class VRow>
void separable_rows(const Image& padded, Image& dst, int k, HRow&& hrow, VRow&& vrow) {
  const size_t n = static_cast<size_t>(dst.row_bytes());
  std::vector<T> ring(n * static_cast<size_t>(k));
  std::vector<const T*> rows(static_cast<size_t>(k));
  auto slot = [&](int py) { return ring.data() + static_cast<size_t>(py % k) * n; };
  for (int py = 0; py < k - 1; ++py) hrow(padded.row(py), slot(py));
  for (int y = 0; y < dst.height; ++y) {
    hrow(padded.row(y + k - 1), slot(y + k - 1));
    for (int t = 0; t < k; ++t) rows[static_cast<size_t>(t)] = slot(y + t);
    vrow(rows.data(), dst.row(y));
  }
}

// Exact integer blur with OpenCV's 1/256-step kernels. The taps share a
// power-of-two factor g (64, 16, 4 for k = 3, 5, 7); summing with k / g
// keeps the horizontal pass in uint16 and, for k <= 5, the vertical one
// too (255 * (256 / g)^2 <= 65535), and the result
// round(g^2 * sum / 2^16) is a shift. Equal to summing with the full taps.
template <int K, class Acc>
Image blur_fixed_k(const Image& src, const int* full_taps) {
  constexpr int r = K / 2;
  int g = 256;
  for (int t = 0; t < K; ++t) g = std::gcd(g, full_taps[t]);
  uint16_t w[K];
  for (int t = 0; t < K; ++t) w[t] = static_cast<uint16_t>(full_taps[t] / g);
  const int shift = 16 - 2 * std::countr_zero(static_cast<unsigned>(g));
  const Acc half = static_cast<Acc>(Acc{1} << (shift - 1));
  const int c = src.channels;
  const int64_t n = src.row_bytes();
  Image padded = pad(src, r, r, r, r, BorderMode::Reflect101);
  Image dst(src.height, src.width, c);
  auto hrow = [&](const uint8_t* __restrict s, uint16_t* __restrict d) {
    for (int64_t j = 0; j < n; ++j) {
      uint16_t v = 0;
      for (int t = 0; t < K; ++t) v = static_cast<uint16_t>(v + s[j + t * c] * w[t]);
      d[j] = v;
    }
  };
  auto vrow = [&](const uint16_t* const* rows, uint8_t* __restrict d) {
    for (int64_t j = 0; j < n; ++j) {
      Acc v = half;
      for (int t = 0; t < K; ++t) v = static_cast<Acc>(v + static_cast<Acc>(rows[t][j]) * w[t]);
      d[j] = static_cast<uint8_t>(v >> shift);
    }
  };
  separable_rows<uint16_t>(padded, dst, K, hrow, vrow);
  return dst;
}

Image blur_fixed(const Image& src, const std::vector<int>& k) {
  switch (k.size()) {
    case 3: return blur_fixed_k<3, uint16_t>(src, k.data());
    case 5: return blur_fixed_k<5, uint16_t>(src, k.data());
    case 7: return blur_fixed_k<7, uint32_t>(src, k.data());
    default: fail("gaussian_blur", "no fixed-point kernel of size ", k.size());
  }
}

Image blur_float(const Image& src, const std::vector<float>& k) {
  const int ks = static_cast<int>(k.size()), r = ks / 2, c = src.channels;
  Image padded = pad(src, r, r, r, r, BorderMode::Reflect101);
  const int64_t n = src.row_bytes();
  Image dst(src.height, src.width, c);
  auto hrow = [&](const uint8_t* __restrict s, float* __restrict d) {
    std::fill(d, d + n, 0.f);
    for (int t = 0; t < ks; ++t) {  // tap-outer: the inner loop vectorises
      const uint8_t* st = s + int64_t{t} * c;
      const float wt = k[static_cast<size_t>(t)];
      for (int64_t j = 0; j < n; ++j) d[j] += st[j] * wt;
    }
  };
  std::vector<float> acc(static_cast<size_t>(n));
  auto vrow = [&](const float* const* rows, uint8_t* __restrict d) {
    float* __restrict a = acc.data();
    std::fill(a, a + n, 0.f);
    for (int t = 0; t < ks; ++t) {
      const float* __restrict s = rows[t];
      const float wt = k[static_cast<size_t>(t)];
      for (int64_t j = 0; j < n; ++j) a[j] += s[j] * wt;
    }
    for (int64_t j = 0; j < n; ++j) d[j] = round_to_u8(a[j]);
  };
  separable_rows<float>(padded, dst, ks, hrow, vrow);
  return dst;
}

// Acklam's rational approximation of the normal quantile function.
double normal_quantile(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  if (p < 0.02425) {
    double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - 0.02425) return -normal_quantile(1 - p);
  double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

const std::vector<float>& normal_table() {
  static const std::vector<float> t = [] {
    std::vector<float> v(65536);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(normal_quantile((i + 0.5) / 65536.0));
    return v;
  }();
  return t;
}

}  // namespace

Image gaussian_blur(const Image& src, int ksize, double sigma) {
  if (ksize <= 0) {
    EMBER_CHECK(sigma > 0, "gaussian_blur", "ksize and sigma cannot both be 0");
    ksize = static_cast<int>(std::lrint(sigma * 3 * 2 + 1)) | 1;  // OpenCV's rule for 8-bit images
  }
  EMBER_CHECK(ksize % 2 == 1, "gaussian_blur", "ksize must be odd, got ", ksize);
  if (ksize == 1) return src;
  EMBER_CHECK(ksize / 2 < std::min(src.height, src.width), "gaussian_blur", "ksize ", ksize, " is too large for a ",
              src.shape_str(), " image");
  if (sigma <= 0) {
    if (const std::vector<int>* k = small_gaussian(ksize)) return blur_fixed(src, *k);
    sigma = ((ksize - 1) * 0.5 - 1) * 0.3 + 0.8;
  }
  std::vector<double> kd(static_cast<size_t>(ksize));
  double sum = 0;
  for (int i = 0; i < ksize; ++i) {
    double x = i - (ksize - 1) * 0.5;
    sum += kd[static_cast<size_t>(i)] = std::exp(-0.5 * x * x / (sigma * sigma));
  }
  std::vector<float> k(static_cast<size_t>(ksize));
  for (int i = 0; i < ksize; ++i) k[static_cast<size_t>(i)] = static_cast<float>(kd[static_cast<size_t>(i)] / sum);
  return blur_float(src, k);
}

Image filter2d(const Image& src, const std::vector<float>& kernel, int ksize) {
  EMBER_CHECK(ksize > 0 && kernel.size() == static_cast<size_t>(ksize) * ksize, "filter2d", "kernel must be ", ksize,
              "x", ksize);
  const int r = ksize / 2, c = src.channels;
  EMBER_CHECK(r < std::min(src.height, src.width), "filter2d", "kernel ", ksize, " too large for ", src.shape_str());
  Image padded = pad(src, r, ksize - 1 - r, r, ksize - 1 - r, BorderMode::Reflect101);
  struct Tap {
    int dy, dx;
    float w;
  };
  std::vector<Tap> taps;
  for (int i = 0; i < ksize; ++i)
    for (int j = 0; j < ksize; ++j)
      if (kernel[static_cast<size_t>(i * ksize + j)] != 0.f) taps.push_back({i, j, kernel[static_cast<size_t>(i * ksize + j)]});
  const int64_t n = src.row_bytes();
  Image dst(src.height, src.width, c);
  // All taps equal (a motion-blur line, a box): sum bytes in uint16, scale once.
  bool equal = taps.size() <= 256;
  for (const Tap& t : taps) equal = equal && t.w == taps[0].w;
  if (equal && !taps.empty()) {
    std::vector<uint16_t> sum(static_cast<size_t>(n));
    const float w = taps[0].w;
    for (int y = 0; y < src.height; ++y) {
      std::fill(sum.begin(), sum.end(), uint16_t{0});
      for (const Tap& t : taps) {
        const uint8_t* s = padded.row(y + t.dy) + int64_t{t.dx} * c;
        for (int64_t j = 0; j < n; ++j) sum[static_cast<size_t>(j)] = static_cast<uint16_t>(sum[static_cast<size_t>(j)] + s[j]);
      }
      uint8_t* d = dst.row(y);
      for (int64_t j = 0; j < n; ++j) d[j] = round_to_u8(static_cast<float>(sum[static_cast<size_t>(j)]) * w);
    }
    return dst;
  }
  std::vector<float> acc(static_cast<size_t>(n));
  for (int y = 0; y < src.height; ++y) {
    std::fill(acc.begin(), acc.end(), 0.f);
    for (const Tap& t : taps) {
      const uint8_t* s = padded.row(y + t.dy) + int64_t{t.dx} * c;
      for (int64_t j = 0; j < n; ++j) acc[static_cast<size_t>(j)] += s[j] * t.w;
    }
    uint8_t* d = dst.row(y);
    for (int64_t j = 0; j < n; ++j) d[j] = round_to_u8(acc[static_cast<size_t>(j)]);
  }
  return dst;
}

std::vector<float> motion_kernel(int ksize, int x1, int y1, int x2, int y2) {
  std::vector<float> k(static_cast<size_t>(ksize) * ksize, 0.f);
  // Bresenham's line, 8-connected (as cv2.line with thickness 1).
  int dx = std::abs(x2 - x1), dy = -std::abs(y2 - y1), sx = x1 < x2 ? 1 : -1, sy = y1 < y2 ? 1 : -1, err = dx + dy;
  int x = x1, y = y1, count = 0;
  while (true) {
    if (x >= 0 && x < ksize && y >= 0 && y < ksize && k[static_cast<size_t>(y * ksize + x)] == 0.f) {
      k[static_cast<size_t>(y * ksize + x)] = 1.f;
      ++count;
    }
    if (x == x2 && y == y2) break;
    int e2 = 2 * err;
    if (e2 >= dy) err += dy, x += sx;
    if (e2 <= dx) err += dx, y += sy;
  }
  for (float& v : k) v /= static_cast<float>(std::max(count, 1));
  return k;
}

Image add_noise(const Image& src, const std::vector<float>& noise) {
  const size_t pixels = static_cast<size_t>(src.height) * src.width;
  const bool per_channel = noise.size() == src.pixels.size();
  EMBER_CHECK(per_channel || noise.size() == pixels, "add_noise", "noise has ", noise.size(), " values for a ",
              src.shape_str(), " image");
  Image dst(src.height, src.width, src.channels);
  const int c = src.channels;
  for (size_t i = 0; i < src.pixels.size(); ++i) {
    float v = static_cast<float>(src.pixels[i]) + noise[per_channel ? i : i / static_cast<size_t>(c)];
    dst.pixels[i] = static_cast<uint8_t>(std::clamp(v, 0.f, 255.f));
  }
  return dst;
}

std::vector<float> gauss_noise_field(int height, int width, int channels, double mean, double sigma, Rng& rng) {
  const std::vector<float>& table = normal_table();
  std::vector<float> v(static_cast<size_t>(height) * width * channels);
  const float m = static_cast<float>(mean), s = static_cast<float>(sigma);
  size_t i = 0;
  for (; i + 4 <= v.size(); i += 4) {
    uint64_t r = rng.next();
    for (int k = 0; k < 4; ++k, r >>= 16) v[i + static_cast<size_t>(k)] = m + s * table[r & 0xFFFF];
  }
  for (; i < v.size(); ++i) v[i] = m + s * table[rng.next() & 0xFFFF];
  return v;
}

Image fill_boxes(const Image& src, const std::vector<Box>& boxes, std::array<uint8_t, 4> fill) {
  Image dst = src;
  const int c = src.channels;
  for (const Box& b : boxes) {
    int x1 = std::clamp(b.x1, 0, src.width), x2 = std::clamp(b.x2, 0, src.width);
    int y1 = std::clamp(b.y1, 0, src.height), y2 = std::clamp(b.y2, 0, src.height);
    for (int y = y1; y < y2; ++y) {
      uint8_t* d = dst.row(y);
      for (int x = x1; x < x2; ++x)
        for (int ch = 0; ch < c; ++ch) d[x * c + ch] = fill[static_cast<size_t>(ch)];
    }
  }
  return dst;
}

}  // namespace ember
