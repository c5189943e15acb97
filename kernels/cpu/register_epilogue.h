// A convolution's epilogue as kernels apply it to their own registers
// before the store, where their registers hold several output channels
// (depthwise_channel_groups.h, conv2d_direct.h): `mode` is
// ConvEpilogue::register_mode() (0: the sums as they are; 1-3: scale and
// shift, then nothing, ReLU or ReLU6), with the channels' scales and
// shifts, indexed from the kernel's first channel (read for modes 1-3
// only). The arithmetic is batch_norm_rows.h's clamp_row (one fused
// multiply-add, then max(0, v), then min(6, v)), so the values are those of
// the epilogue's own pass.
#pragma once

#include <cmath>

#include "kernels/fused_activation.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace ember {

// The arithmetic on one register, kMode as `mode` below: 0 the sums as they
// are; 1, 2, 3 scale and shift (one fused multiply-add, as clamp_row), then
// nothing, ReLU or ReLU6. max(0, v) and min(6, v) pass NaN through, as
// clamp_row's do.
#if defined(__AVX2__) && defined(__FMA__)
template <int kMode>
inline __m256 register_finish(__m256 v, __m256 scale, __m256 shift) {
  if constexpr (kMode == 0) return v;
  v = _mm256_fmadd_ps(v, scale, shift);
  if constexpr (kMode >= 2) v = _mm256_max_ps(_mm256_setzero_ps(), v);
  if constexpr (kMode == 3) v = _mm256_min_ps(_mm256_set1_ps(6.0f), v);
  return v;
}
#endif
#if defined(__AVX512F__)
// (max's and min's zero-masked forms with every lane kept: GCC 12's plain
// forms pass an undefined register and warn.)
template <int kMode>
inline __m512 register_finish(__m512 v, __m512 scale, __m512 shift) {
  if constexpr (kMode == 0) return v;
  constexpr __mmask16 kAll = 0xFFFF;
  v = _mm512_fmadd_ps(v, scale, shift);
  if constexpr (kMode >= 2) v = _mm512_maskz_max_ps(kAll, _mm512_setzero_ps(), v);
  if constexpr (kMode == 3) v = _mm512_maskz_min_ps(kAll, _mm512_set1_ps(6.0f), v);
  return v;
}
#endif

struct RegisterEpilogue {
  int mode = 0;
  const float* scale = nullptr;
  const float* shift = nullptr;

#if defined(__AVX2__) && defined(__FMA__)
  // Eight values of channel c (clamp_row's vector step).
  __m256 apply(__m256 v, int64_t c) const {
    if (mode == 0) return v;
    const __m256 s = _mm256_set1_ps(scale[c]), t = _mm256_set1_ps(shift[c]);
    return mode == 1 ? register_finish<1>(v, s, t) : mode == 2 ? register_finish<2>(v, s, t) : register_finish<3>(v, s, t);
  }
#endif
  // One value of channel c (clamp_row's scalar step, for a row's last few).
  float apply(float v, int64_t c) const {
    if (mode == 0) return v;
    v = std::fma(v, scale[c], shift[c]);
    return mode == 1 ? v : math::fused_activation(v, mode == 2 ? FusedActivation::Relu : FusedActivation::Relu6);
  }
};

}  // namespace ember
