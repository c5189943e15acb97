// Depthwise convolution of one plane, sixteen columns per AVX-512 register:
// see depthwise_rows.h.
#include "kernels/cpu/depthwise_rows.h"

#if defined(__AVX512F__)
#include "kernels/cpu/avx512_rows.h"
#include "kernels/cpu/register_epilogue.h"
#endif

#include <algorithm>
#include <stdexcept>

namespace ember {

#if defined(__AVX512F__)
namespace {

using namespace avx512_rows;  // NOLINT: columns_mask, even_columns, kLanes

constexpr int kRows = 4;  // output rows per block

// Output rows [oh0, oh0 + R) of the plane. Input row i of the block (plane
// row oh0*S - ph + i) feeds output row r through kernel row ki = i - r*S.
template <int K, int S, int R, int kMode>
void rows_block(const float* plane, const float* w, float bias, float* out, const ConvGeometry& g,
                const DepthwiseRowsEpilogue& epi, int64_t oh0) {
  constexpr int kInputRows = (R - 1) * S + K;
  const int64_t ih0 = oh0 * S - g.p.pad_h;
  const __m512 scale = _mm512_set1_ps(epi.scale), shift = _mm512_set1_ps(epi.shift);
  for (int64_t ow0 = 0; ow0 < g.OW; ow0 += kLanes) {
    const int64_t c0 = ow0 * S - g.p.pad_w;  // input column of lane 0 at tap kj = 0
    __mmask16 low[K], high[K];               // tap kj's masks (high: stride 2's second 16 columns)
#pragma GCC unroll 8
    for (int kj = 0; kj < K; ++kj) {
      low[kj] = columns_mask(c0 + kj, g.W);
      if constexpr (S == 2) high[kj] = columns_mask(c0 + kj + kLanes, g.W);
    }
    __m512 acc[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r] = _mm512_set1_ps(bias);
#pragma GCC unroll 16
    for (int i = 0; i < kInputRows; ++i) {
      const int64_t ih = ih0 + i;
      if (ih < 0 || ih >= g.H) continue;  // a padding row adds zeros
      const float* row = plane + ih * g.W + c0;
#pragma GCC unroll 8
      for (int kj = 0; kj < K; ++kj) {
        __m512 x;
        if constexpr (S == 1) {
          x = _mm512_maskz_loadu_ps(low[kj], row + kj);
        } else {
          x = even_columns(row + kj, low[kj], high[kj]);
        }
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const int ki = i - r * S;
          if (ki >= 0 && ki < K) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(w[ki * K + kj]), x, acc[r]);
        }
      }
    }
    const __mmask16 store = columns_mask(ow0, g.OW);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
      _mm512_mask_storeu_ps(out + (oh0 + r) * g.OW + ow0, store, register_finish<kMode>(acc[r], scale, shift));
  }
}

template <int K, int S, int kMode>
void plane_rows(const float* plane, const float* w, float bias, float* out, const ConvGeometry& g,
                const DepthwiseRowsEpilogue& epi) {
  int64_t oh = 0;
  for (; oh + kRows <= g.OH; oh += kRows) rows_block<K, S, kRows, kMode>(plane, w, bias, out, g, epi, oh);
  switch (g.OH - oh) {
    case 3: return rows_block<K, S, 3, kMode>(plane, w, bias, out, g, epi, oh);
    case 2: return rows_block<K, S, 2, kMode>(plane, w, bias, out, g, epi, oh);
    case 1: return rows_block<K, S, 1, kMode>(plane, w, bias, out, g, epi, oh);
    default: return;
  }
}

template <int K, int S>
void plane_with_epilogue(const float* x, const float* w, float bias, float* out, const ConvGeometry& g,
                         const DepthwiseRowsEpilogue& epi) {
  switch (epi.mode) {
    case 0: return plane_rows<K, S, 0>(x, w, bias, out, g, epi);
    case 1: return plane_rows<K, S, 1>(x, w, bias, out, g, epi);
    case 2: return plane_rows<K, S, 2>(x, w, bias, out, g, epi);
    case 3: return plane_rows<K, S, 3>(x, w, bias, out, g, epi);
    default: throw std::logic_error("depthwise_rows_plane: the epilogue's mode must be 0-3");
  }
}

}  // namespace

bool depthwise_rows_available(const ConvGeometry& g) {
  const auto& p = g.p;
  return g.depthwise() && g.KH == g.KW && (g.KH == 3 || g.KH == 5) && p.stride_h == p.stride_w &&
         (p.stride_h == 1 || p.stride_h == 2) && p.dilation_h == 1 && p.dilation_w == 1 && g.OW > 8;
}

void depthwise_rows_plane(const float* x, const float* w, float bias, float* out, const ConvGeometry& g,
                          const DepthwiseRowsEpilogue& epi) {
  switch (g.KH * 10 + g.p.stride_h) {
    case 31: return plane_with_epilogue<3, 1>(x, w, bias, out, g, epi);
    case 32: return plane_with_epilogue<3, 2>(x, w, bias, out, g, epi);
    case 51: return plane_with_epilogue<5, 1>(x, w, bias, out, g, epi);
    case 52: return plane_with_epilogue<5, 2>(x, w, bias, out, g, epi);
    default: throw std::logic_error("depthwise_rows_plane: check depthwise_rows_available first");
  }
}

#else  // no AVX-512 in this build: the plane and channel-group kernels run everything.

bool depthwise_rows_available(const ConvGeometry&) { return false; }

void depthwise_rows_plane(const float*, const float*, float, float*, const ConvGeometry&,
                          const DepthwiseRowsEpilogue&) {
  throw std::logic_error("depthwise_rows_plane: this build has no AVX-512 kernel");
}

#endif

}  // namespace ember
