// Depthwise convolution, eight channels at a time: see depthwise_channel_groups.h.
#include "kernels/cpu/depthwise_channel_groups.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define EMBER_HAVE_CHANNEL_GROUPS 1
#endif

#include <stdexcept>

#include "kernels/cpu/transpose_8x8.h"

namespace ember {

#if defined(EMBER_HAVE_CHANNEL_GROUPS)
namespace {

constexpr int64_t kLanes = 8;

// Step 1: the eight planes (plane c at x + c * H * W) into the scratch,
// pixel (ih, iw) at ((ih + ph) * PW + iw + pw) * 8. The planes are walked
// as flat runs of H * W pixels, so a 7-wide map transposes as well as a
// wide one.
void interleave_planes(const float* x, const ConvGeometry& g, float* padded) {
  const int64_t HW = g.H * g.W, PW = g.W + 2 * g.p.pad_w;
  float* row = padded + (g.p.pad_h * PW + g.p.pad_w) * kLanes;  // pixel (0, 0)
  int64_t iw = 0;
  auto next_pixel = [&] {
    row += kLanes;
    if (++iw == g.W) iw = 0, row += 2 * g.p.pad_w * kLanes;
  };
  int64_t p = 0;
  for (; p + kLanes <= HW; p += kLanes) {
    __m256 r[kLanes];
    for (int64_t c = 0; c < kLanes; ++c) r[c] = _mm256_loadu_ps(x + c * HW + p);
    transpose_8x8(r);
    for (int64_t j = 0; j < kLanes; ++j, next_pixel()) _mm256_storeu_ps(row, r[j]);
  }
  for (; p < HW; ++p, next_pixel())
    for (int64_t c = 0; c < kLanes; ++c) row[c] = x[c * HW + p];
}

// Step 3: output pixel o's eight values at out + 8 o into the eight planes
// (plane c at y + c * OH * OW).
void deinterleave_planes(const float* out, const ConvGeometry& g, float* y) {
  const int64_t OHW = g.OH * g.OW;
  int64_t o = 0;
  for (; o + kLanes <= OHW; o += kLanes) {
    __m256 r[kLanes];
    for (int64_t j = 0; j < kLanes; ++j) r[j] = _mm256_loadu_ps(out + (o + j) * kLanes);
    transpose_8x8(r);
    for (int64_t c = 0; c < kLanes; ++c) _mm256_storeu_ps(y + c * OHW + o, r[c]);
  }
  for (; o < OHW; ++o)
    for (int64_t c = 0; c < kLanes; ++c) y[c * OHW + o] = out[o * kLanes + c];
}

// Step 2 for a K x K kernel at stride S. Four output pixels of a row at a
// time, four independent chains of fused multiply-adds sharing each tap's
// weights.
template <int K, int S, int kMode>
void convolve_interleaved(const float* padded, const float* w, const float* bias, const RegisterEpilogue& epi,
                          const ConvGeometry& g, float* out) {
  const int64_t PW = g.W + 2 * g.p.pad_w;
  constexpr int kTaps = K * K, kUnroll = 4;
  __m256 wt[kTaps];  // tap t's weights for the eight channels
  for (int t = 0; t < kTaps; ++t) {
    alignas(32) float lanes[kLanes];
    for (int64_t c = 0; c < kLanes; ++c) lanes[c] = w[c * kTaps + t];
    wt[t] = _mm256_load_ps(lanes);
  }
  const __m256 b = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
  const __m256 scale = kMode ? _mm256_loadu_ps(epi.scale) : _mm256_setzero_ps();
  const __m256 shift = kMode ? _mm256_loadu_ps(epi.shift) : _mm256_setzero_ps();
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const float* src_row = padded + oh * S * PW * kLanes;
    float* dst = out + oh * g.OW * kLanes;
    int64_t ow = 0;
    for (; ow + kUnroll <= g.OW; ow += kUnroll) {
      const float* src = src_row + ow * S * kLanes;
      __m256 acc[kUnroll];
      for (auto& a : acc) a = b;
      for (int ki = 0; ki < K; ++ki)
        for (int kj = 0; kj < K; ++kj) {
          const float* tap = src + (ki * PW + kj) * kLanes;
          for (int u = 0; u < kUnroll; ++u)
            acc[u] = _mm256_fmadd_ps(wt[ki * K + kj], _mm256_loadu_ps(tap + u * S * kLanes), acc[u]);
        }
      for (int u = 0; u < kUnroll; ++u) _mm256_storeu_ps(dst + (ow + u) * kLanes, register_finish<kMode>(acc[u], scale, shift));
    }
    for (; ow < g.OW; ++ow) {
      const float* src = src_row + ow * S * kLanes;
      __m256 acc = b;
      for (int ki = 0; ki < K; ++ki)
        for (int kj = 0; kj < K; ++kj)
          acc = _mm256_fmadd_ps(wt[ki * K + kj], _mm256_loadu_ps(src + (ki * PW + kj) * kLanes), acc);
      _mm256_storeu_ps(dst + ow * kLanes, register_finish<kMode>(acc, scale, shift));
    }
  }
}

using Convolve = void (*)(const float*, const float*, const float*, const RegisterEpilogue&,
                          const ConvGeometry&, float*);

template <int K, int S>
Convolve convolve_for(int mode) {
  switch (mode) {
    case 0: return convolve_interleaved<K, S, 0>;
    case 1: return convolve_interleaved<K, S, 1>;
    case 2: return convolve_interleaved<K, S, 2>;
    default: return convolve_interleaved<K, S, 3>;
  }
}

int64_t padded_floats(const ConvGeometry& g) {
  return (g.H + 2 * g.p.pad_h) * (g.W + 2 * g.p.pad_w) * kLanes;
}

}  // namespace

bool depthwise_channel_groups_available(const ConvGeometry& g) {
  const auto& p = g.p;
  return g.depthwise() && g.OCg == 1 && g.KH == g.KW && (g.KH == 3 || g.KH == 5) && p.stride_h == p.stride_w &&
         (p.stride_h == 1 || p.stride_h == 2) && p.dilation_h == 1 && p.dilation_w == 1;
}

int64_t depthwise_channel_group_scratch(const ConvGeometry& g) { return padded_floats(g) + g.OH * g.OW * kLanes; }

void depthwise_channel_group(const float* x, const float* w, const float* bias, const RegisterEpilogue& epi,
                             float* y, const ConvGeometry& g, float* scratch) {
  float* out = scratch + padded_floats(g);
  interleave_planes(x, g, scratch);
  if (epi.mode < 0 || epi.mode > 3) throw std::logic_error("depthwise_channel_group: the epilogue's mode must be 0-3");
  Convolve convolve = nullptr;
  switch (g.KH * 10 + g.p.stride_h) {
    case 31: convolve = convolve_for<3, 1>(epi.mode); break;
    case 32: convolve = convolve_for<3, 2>(epi.mode); break;
    case 51: convolve = convolve_for<5, 1>(epi.mode); break;
    case 52: convolve = convolve_for<5, 2>(epi.mode); break;
    default: throw std::logic_error("depthwise_channel_group: check depthwise_channel_groups_available first");
  }
  convolve(scratch, w, bias, epi, g, out);
  deinterleave_planes(out, g, y);
}

#else  // no AVX2/FMA in this build: the plane kernels run everything.

bool depthwise_channel_groups_available(const ConvGeometry&) { return false; }
int64_t depthwise_channel_group_scratch(const ConvGeometry&) { return 0; }
void depthwise_channel_group(const float*, const float*, const float*, const RegisterEpilogue&, float*,
                             const ConvGeometry&, float*) {
  throw std::logic_error("depthwise_channel_group: this build has no AVX2/FMA kernel");
}

#endif

}  // namespace ember
