// 3x3 convolution of inputs with at most 4 channels: see conv2d_few_channels.h.
#include "kernels/cpu/conv2d_few_channels.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/parallel.h"

#if defined(__AVX512F__)
#include "kernels/cpu/avx512_rows.h"
#include "kernels/cpu/register_epilogue.h"
#endif

namespace ember {

#if defined(__AVX512F__)
namespace {

using namespace avx512_rows;  // NOLINT: columns_mask, even_columns, kLanes

constexpr int K = 3, kTaps = K * K;
constexpr int kMaxChannels = 4;

// Sixteen output columns [ow0, ow0 + 16) of row oh for the output channels
// [oc0, oc0 + B). wt holds the weights turned to [c][tap][oc], so a tap's
// channels are consecutive; y points at the sample's output.
template <int S, int B, int kMode>
void chunk(const float* x, const float* wt, const float* bias, const float* scale, const float* shift, float* y,
           const ConvGeometry& g, int64_t oh, int64_t ow0, int64_t oc0) {
  const int64_t c0 = ow0 * S - g.p.pad_w;  // input column of lane 0 at tap kj = 0
  __mmask16 low[K], high[K];
#pragma GCC unroll 4
  for (int kj = 0; kj < K; ++kj) {
    low[kj] = columns_mask(c0 + kj, g.W);
    high[kj] = S == 2 ? columns_mask(c0 + kj + kLanes, g.W) : 0;
  }
  __m512 acc[B];
#pragma GCC unroll 16
  for (int j = 0; j < B; ++j) acc[j] = _mm512_set1_ps(bias ? bias[oc0 + j] : 0.0f);
  for (int64_t c = 0; c < g.C; ++c) {
#pragma GCC unroll 4
    for (int ki = 0; ki < K; ++ki) {
      const int64_t ih = oh * S - g.p.pad_h + ki;
      if (ih < 0 || ih >= g.H) continue;  // a padding row adds zeros
      const float* row = x + (c * g.H + ih) * g.W + c0;
#pragma GCC unroll 4
      for (int kj = 0; kj < K; ++kj) {
        const __m512 v = S == 1 ? _mm512_maskz_loadu_ps(low[kj], row + kj) : even_columns(row + kj, low[kj], high[kj]);
        const float* tap = wt + (c * kTaps + ki * K + kj) * g.OC + oc0;
#pragma GCC unroll 16
        for (int j = 0; j < B; ++j) acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(tap[j]), v, acc[j]);
      }
    }
  }
  const __mmask16 store = columns_mask(ow0, g.OW);
#pragma GCC unroll 16
  for (int j = 0; j < B; ++j) {
    const int64_t oc = oc0 + j;
    const __m512 out = register_finish<kMode>(acc[j], _mm512_set1_ps(scale ? scale[oc] : 1.0f),
                                     _mm512_set1_ps(shift ? shift[oc] : 0.0f));
    _mm512_mask_storeu_ps(y + (oc * g.OH + oh) * g.OW + ow0, store, out);
  }
}

// Output row oh of one sample: every chunk of columns, channels sixteen at
// a time, then one at a time.
template <int S, int kMode>
void output_row(const float* x, const float* wt, const float* bias, const float* scale, const float* shift, float* y,
                const ConvGeometry& g, int64_t oh) {
  for (int64_t ow0 = 0; ow0 < g.OW; ow0 += kLanes) {
    int64_t oc = 0;
    for (; oc + 16 <= g.OC; oc += 16) chunk<S, 16, kMode>(x, wt, bias, scale, shift, y, g, oh, ow0, oc);
    for (; oc < g.OC; ++oc) chunk<S, 1, kMode>(x, wt, bias, scale, shift, y, g, oh, ow0, oc);
  }
}

using RowKernel = void (*)(const float*, const float*, const float*, const float*, const float*, float*,
                           const ConvGeometry&, int64_t);

template <int S>
RowKernel row_kernel(int mode) {
  switch (mode) {
    case 0: return output_row<S, 0>;
    case 1: return output_row<S, 1>;
    case 2: return output_row<S, 2>;
    default: return output_row<S, 3>;
  }
}

}  // namespace

bool conv2d_few_channels_applies(const ConvGeometry& g) {
  const auto& p = g.p;
  return g.groups == 1 && g.C <= kMaxChannels && g.KH == K && g.KW == K && p.stride_h == p.stride_w &&
         (p.stride_h == 1 || p.stride_h == 2) && p.dilation_h == 1 && p.dilation_w == 1 && g.OW > 8;
}

void conv2d_few_channels_forward(float* y, const float* x, const float* w, const float* bias, const ConvGeometry& g,
                                 const ConvEpilogue<float>& epi) {
  if (!conv2d_few_channels_applies(g)) throw std::logic_error("conv2d_few_channels: check its applies() first");
  // The weights as [c][tap][oc]: a tap's sixteen channels are one run.
  std::vector<float> wt(static_cast<size_t>(g.C * kTaps * g.OC));
  for (int64_t oc = 0; oc < g.OC; ++oc)
    for (int64_t i = 0; i < g.C * kTaps; ++i) wt[static_cast<size_t>(i * g.OC + oc)] = w[oc * g.C * kTaps + i];
  // The batch norm and a ReLU or ReLU6 go into the store; others after it.
  const int mode = epi.register_mode();
  const RowKernel row = g.p.stride_h == 1 ? row_kernel<1>(std::max(mode, 0)) : row_kernel<2>(std::max(mode, 0));
  const float *sc = mode > 0 ? epi.scales() : nullptr, *sh = mode > 0 ? epi.shifts() : nullptr;
  const int64_t in_sample = g.C * g.H * g.W, out_sample = g.OC * g.OH * g.OW, plane = g.OH * g.OW;
  parallel_for(g.N * g.OH, 4, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / g.OH;
      row(x + n * in_sample, wt.data(), bias, sc, sh, y + n * out_sample, g, t % g.OH);
    }
  });
  if (mode < 0) {
    parallel_for(g.N * g.OC, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) epi.channel_span(y + t * plane, t * plane, t % g.OC, plane);
    });
  }
}

#else  // no AVX-512 in this build: the product and the direct kernel run these.

bool conv2d_few_channels_applies(const ConvGeometry&) { return false; }

void conv2d_few_channels_forward(float*, const float*, const float*, const float*, const ConvGeometry&,
                                 const ConvEpilogue<float>&) {
  throw std::logic_error("conv2d_few_channels: this build has no AVX-512 kernel");
}

#endif

}  // namespace ember
