#include "kernels/cpu/sigmoid_span.h"

#include <Eigen/Core>
#include <algorithm>

namespace ember {
namespace {

// The sigmoid paths below share one construction. From e = exp(-|x|), which
// never overflows, sigmoid is 1/(1+e) for x >= 0 and e/(1+e) below, and
// 1 - sigmoid the other way round, so neither loses its small values (Eigen's
// logistic() does below x = -10; 1 - s as a difference would cost x * 6e-8
// for large x). |x| is capped at 87 so that e stays a normal float
// (arithmetic on subnormals is a hundred times slower); past it the small one
// is 0 (so silu(-inf) = -inf * 0 = NaN, as in PyTorch). Blocks of
// kSigmoidBlock keep e in L1.
constexpr int64_t kSigmoidBlock = 512;

// e[j] = exp(-min(|x[j]|, 87)), vectorised by Eigen. Every element goes
// through the vector exp: the last m % 16 in a zero-padded block of 16.
// Left to Eigen, they would take its scalar exp, which can differ by an ulp;
// which elements those are depends on where a span starts, so the same
// values cut into spans differently (a convolution's blocks of output rows,
// a batch norm's whole planes) would not round alike.
inline void exp_neg_abs_whole(const float* x, float* e, int64_t m) {
  Eigen::Map<Eigen::ArrayXf>(e, m) = (-Eigen::Map<const Eigen::ArrayXf>(x, m).abs().min(87.0f)).exp();
}
inline void exp_neg_abs(const float* x, float* e, int64_t m) {
  constexpr int64_t kPad = 16;  // a whole number of AVX and AVX-512 packets
  const int64_t whole = m / kPad * kPad;
  if (whole > 0) exp_neg_abs_whole(x, e, whole);
  if (whole == m) return;
  alignas(64) float xt[kPad] = {}, et[kPad];
  std::copy(x + whole, x + m, xt);
  exp_neg_abs_whole(xt, et, kPad);
  std::copy(et, et + (m - whole), e + whole);
}

struct SigmoidPair {
  float s, one_minus_s;
};
inline SigmoidPair sigmoid_pair(float x, float e) {
  const float d = 1.0f / (1.0f + e);
  const float small = (x < -87.0f || x > 87.0f) ? 0.0f : e * d;
  return x >= 0.0f ? SigmoidPair{d, small} : SigmoidPair{small, d};
}

// sigmoid (or SiLU, x * sigmoid) of n floats.
template <bool kSilu>
void sigmoid_block(const float* x, float* y, int64_t n) {
  alignas(64) float e[kSigmoidBlock];
  for (int64_t b = 0; b < n; b += kSigmoidBlock) {
    const int64_t m = std::min(kSigmoidBlock, n - b);
    const float* xb = x + b;
    float* yb = y + b;
    exp_neg_abs(xb, e, m);
#pragma omp simd
    for (int64_t j = 0; j < m; ++j) {
      const float v = xb[j], sig = sigmoid_pair(v, e[j]).s;
      if constexpr (kSilu) {
        yb[j] = v * sig;
      } else {
        yb[j] = v != v ? v : sig;  // NaN stays NaN
      }
    }
  }
}

}  // namespace

void sigmoid_span(const float* x, float* y, int64_t n) { sigmoid_block<false>(x, y, n); }
void silu_span(const float* x, float* y, int64_t n) { sigmoid_block<true>(x, y, n); }

void silu_backward_span(const float* g, const float* x, float* y, int64_t n) {
  alignas(64) float e[kSigmoidBlock];
  for (int64_t b = 0; b < n; b += kSigmoidBlock) {
    const int64_t m = std::min(kSigmoidBlock, n - b);
    exp_neg_abs(x + b, e, m);
#pragma omp simd
    for (int64_t j = 0; j < m; ++j) {
      const float xv = x[b + j];
      const SigmoidPair p = sigmoid_pair(xv, e[j]);
      y[b + j] = g[b + j] * p.s * (1.0f + xv * p.one_minus_s);
    }
  }
}

}  // namespace ember
