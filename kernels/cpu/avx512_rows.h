// Pieces shared by the AVX-512 kernels that read a plane's rows straight
// from memory, sixteen output columns per register (depthwise_rows.cpp,
// conv2d_few_channels.cpp): the masks that stand in for zero padding and
// the permute that keeps every second column at stride 2 (the epilogue
// applied in the register is register_epilogue.h's). Include only under
// __AVX512F__.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

namespace ember::avx512_rows {

constexpr int64_t kLanes = 16;

// The lanes l of a 16-float load from column c whose column c + l lies in
// [0, W): the others read as zero and cannot fault.
inline __mmask16 columns_mask(int64_t c, int64_t W) {
  const int64_t lo = std::clamp<int64_t>(-c, 0, kLanes), hi = std::clamp<int64_t>(W - c, 0, kLanes);
  if (hi <= lo) return 0;
  const uint32_t below_hi = hi == kLanes ? 0xFFFFu : (1u << hi) - 1u;
  return static_cast<__mmask16>(below_hi & ~((1u << lo) - 1u));
}

// Sixteen stride-2 taps: columns c, c + 2, ..., c + 30 of a row, from two
// masked loads of 16 and one permute.
inline __m512 even_columns(const float* row, __mmask16 first, __mmask16 second) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  return _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(first, row), even, _mm512_maskz_loadu_ps(second, row + kLanes));
}

}  // namespace ember::avx512_rows
