// The even and the odd floats of 16 consecutive ones, each in order in one
// AVX2 register: a stride-2 read as two loads and a shuffle. Used by the
// strided convolution's phase copy (conv2d.cpp), the stride-2 depthwise
// convolution's row split (depthwise_conv2d.cpp) and the 2x2 average pooling
// (pooling.cpp). Callers check __AVX2__.
#pragma once

#if defined(__AVX2__)
#include <immintrin.h>

namespace ember {

// Lanes of shuffle(lo, hi) come out as lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6;
// swapping the middle 64-bit pairs puts them in order.
inline __m256 even_columns_of_16(const float* p) {
  const __m256 picked = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), 0x88);
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(picked), 0xD8));
}

inline __m256 odd_columns_of_16(const float* p) {
  const __m256 picked = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), 0xDD);
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(picked), 0xD8));
}

}  // namespace ember

#endif
