// Sixteen float lanes for the CPU kernels whose tiles are 16 wide (sgemm.cpp's
// panels of B, conv2d_direct.cpp's blocks of output channels): one AVX-512
// register, or two AVX2 registers. A kernel writes its loop once for both;
// each lane is the same chain of fused multiply-adds either way, so the bits
// do not depend on which one is built. Callers check __AVX2__ and __FMA__.
#pragma once

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

namespace ember {

#if defined(__AVX512F__)
struct Lanes16 {
  __m512 v;
  static Lanes16 zero() { return {_mm512_setzero_ps()}; }
  static Lanes16 load(const float* p) { return {_mm512_loadu_ps(p)}; }
  void store(float* p) const { _mm512_storeu_ps(p, v); }
};
// acc + a * b, with a in every lane.
inline Lanes16 fmadd(float a, Lanes16 b, Lanes16 acc) { return {_mm512_fmadd_ps(_mm512_set1_ps(a), b.v, acc.v)}; }
inline Lanes16 operator+(Lanes16 x, Lanes16 y) { return {_mm512_add_ps(x.v, y.v)}; }
#else
struct Lanes16 {
  __m256 lo, hi;
  static Lanes16 zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
  static Lanes16 load(const float* p) { return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
  void store(float* p) const {
    _mm256_storeu_ps(p, lo);
    _mm256_storeu_ps(p + 8, hi);
  }
};
inline Lanes16 fmadd(float a, Lanes16 b, Lanes16 acc) {
  const __m256 x = _mm256_set1_ps(a);
  return {_mm256_fmadd_ps(x, b.lo, acc.lo), _mm256_fmadd_ps(x, b.hi, acc.hi)};
}
inline Lanes16 operator+(Lanes16 x, Lanes16 y) { return {_mm256_add_ps(x.lo, y.lo), _mm256_add_ps(x.hi, y.hi)}; }
#endif

}  // namespace ember

#endif
