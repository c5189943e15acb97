// Direct convolution over channel blocks: see conv2d_direct.h.
#include "kernels/cpu/conv2d_direct.h"

#include <algorithm>
#include <stdexcept>

#include "kernels/cpu/parallel.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "kernels/cpu/lanes16.h"
#include "kernels/cpu/transpose_8x8.h"
#define EMBER_HAVE_DIRECT_CONV 1
#endif

namespace ember {

#if defined(EMBER_HAVE_DIRECT_CONV)
namespace {

constexpr int64_t kInBlock = 8;         // input channels per block (fewer when the input has fewer)
constexpr int64_t kOutBlock = 16;       // output channels per tile: two vectors
#if defined(__AVX512F__)
constexpr int64_t kTile = 12;           // output pixels per tile: 12 accumulators of 16 floats
#else
constexpr int64_t kTile = 6;            // output pixels per tile: 12 accumulators of 8 floats
#endif
constexpr int64_t kChunk = 2;           // input channel blocks per pass over a pixel block
constexpr int64_t kBlockPixels = 128;   // output pixels per work item

// Tile of P output pixels x 16 output channels over the input channel
// blocks [0, blocks) of a chunk. Pixel p's input window starts at
// in + offsets[p] (its top-left tap, channel block 0); channel block b lies
// block_stride floats further, kernel row ki row_stride further; a kernel
// row's taps are row_values = KW x (channels per block) contiguous values.
// weights: the chunk's packed weights, [block][ki][kj][channel][16]. The
// sums start from zero (first chunk) or from sums[p][16], and go back there.
template <int P>
[[gnu::always_inline]] inline void tile(const float* in, const int64_t* offsets, int64_t block_stride,
                                        int64_t row_stride, const float* weights, int64_t blocks, int64_t KH,
                                        int64_t row_values, float* sums, bool first) {
  // With AVX-512 the 16 output channels are one register and a tile has up
  // to 12 pixels; with AVX2, two registers and up to 6 (lanes16.h). Either
  // way twelve registers of accumulators.
  Lanes16 acc[P];
  for (int p = 0; p < P; ++p) acc[p] = first ? Lanes16::zero() : Lanes16::load(sums + p * kOutBlock);
  const float* pixel[P];
  for (int p = 0; p < P; ++p) pixel[p] = in + offsets[p];
  // Along one kernel row the KW taps' channels are contiguous values (at
  // stride 2 as well: the taps of a window are adjacent pixels of the
  // padded input), read with one counter.
  for (int64_t b = 0; b < blocks; ++b) {
    for (int64_t ki = 0; ki < KH; ++ki, weights += row_values * kOutBlock) {
      const int64_t base = b * block_stride + ki * row_stride;
#pragma GCC unroll 4
      for (int64_t t = 0; t < row_values; ++t) {
        const Lanes16 w = Lanes16::load(weights + t * kOutBlock);
        for (int p = 0; p < P; ++p) acc[p] = fmadd(pixel[p][base + t], w, acc[p]);  // unrolled: in registers
      }
    }
  }
  for (int p = 0; p < P; ++p) acc[p].store(sums + p * kOutBlock);
}

void tile_of(int64_t pixels, const float* in, const int64_t* offsets, int64_t block_stride, int64_t row_stride,
             const float* weights, int64_t blocks, int64_t KH, int64_t row_values, float* sums, bool first) {
  switch (pixels) {
#if defined(__AVX512F__)
    case 12: return tile<12>(in, offsets, block_stride, row_stride, weights, blocks, KH, row_values, sums, first);
    case 11: return tile<11>(in, offsets, block_stride, row_stride, weights, blocks, KH, row_values, sums, first);
    case 10: return tile<10>(in, offsets, block_stride, row_stride, weights, blocks, KH, row_values, sums, first);
    case 9: return tile<9>(in, offsets, block_stride, row_stride, weights, blocks, KH, row_values, sums, first);
    case 8: return tile<8>(in, offsets, block_stride, row_stride, weights, blocks, KH, row_values, sums, first);
    case 7: return tile<7>(in, offsets, block_stride, row_stride, weights, blocks, KH, row_values, sums, first);
#endif
    case 6: return tile<6>(in, offsets, block_stride, row_stride, weights, blocks, KH, row_values, sums, first);
    case 5: return tile<5>(in, offsets, block_stride, row_stride, weights, blocks, KH, row_values, sums, first);
    case 4: return tile<4>(in, offsets, block_stride, row_stride, weights, blocks, KH, row_values, sums, first);
    case 3: return tile<3>(in, offsets, block_stride, row_stride, weights, blocks, KH, row_values, sums, first);
    case 2: return tile<2>(in, offsets, block_stride, row_stride, weights, blocks, KH, row_values, sums, first);
    case 1: return tile<1>(in, offsets, block_stride, row_stride, weights, blocks, KH, row_values, sums, first);
    default: throw std::logic_error("conv2d_direct: a tile has 1 to kTile pixels");
  }
}

// w[OC][C][KH][KW] into [OC/16][C/B][KH*KW][B][16] (B = block channels),
// zeros past OC and C.
// Whole blocks go through 8x8 transposes: eight output channels' rows of
// 8*KH*KW contiguous values (input channel, tap) become, per (channel,
// tap), eight output channels' values side by side.
void pack_weights(const float* w, const ConvGeometry& g, int64_t block, int64_t in_blocks, int64_t out_blocks,
                  float* out) {
  const int64_t taps = g.KH * g.KW, row = g.C * taps, block_size = taps * block * kOutBlock;
  parallel_for(out_blocks * in_blocks, 4, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t ob = i / in_blocks, cb = i % in_blocks;
      const int64_t oc_count = std::min(kOutBlock, g.OC - ob * kOutBlock), c_count = std::min(block, g.C - cb * block);
      float* dst = out + i * block_size;
      const float* src = w + ob * kOutBlock * row + cb * block * taps;
      // Value (ci, t) of output channel o: dst[(t * block + ci) * 16 + o].
      auto put = [&](int64_t col, int64_t o) { return dst + ((col % taps) * block + col / taps) * kOutBlock + o; };
      if (oc_count == kOutBlock && c_count == kInBlock) {
        for (int64_t half = 0; half < kOutBlock; half += 8) {
          int64_t col = 0;
          for (; col + 8 <= kInBlock * taps; col += 8) {
            __m256 r[8];
            for (int64_t o = 0; o < 8; ++o) r[o] = _mm256_loadu_ps(src + (half + o) * row + col);
            transpose_8x8(r);
            for (int64_t j = 0; j < 8; ++j) _mm256_storeu_ps(put(col + j, half), r[j]);
          }
          for (; col < kInBlock * taps; ++col)
            for (int64_t o = 0; o < 8; ++o) *put(col, half + o) = src[(half + o) * row + col];
        }
        continue;
      }
      std::fill(dst, dst + block_size, 0.0f);
      for (int64_t o = 0; o < oc_count; ++o)
        for (int64_t col = 0; col < c_count * taps; ++col) *put(col, o) = src[o * row + col];
    }
  });
}

// x[C][H][W] into [C/B][Hp][Wp][B] (B = block channels) with the padding
// (and the channels past C) zero, over threads by (block, padded row);
// whole runs of eight pixels of eight channels go through 8x8 transposes.
void pack_input(const float* x, const ConvGeometry& g, int64_t block, int64_t in_blocks, int64_t Hp, int64_t Wp,
                float* out) {
  const int64_t HW = g.H * g.W, ph = g.p.pad_h, pw = g.p.pad_w;
  parallel_for(in_blocks * Hp, std::max<int64_t>(1, 4096 / (Wp * block)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t cb = r / Hp, i = r % Hp - ph;
      float* row = out + r * Wp * block;
      if (i < 0 || i >= g.H) {
        std::fill(row, row + Wp * block, 0.0f);
        continue;
      }
      std::fill(row, row + pw * block, 0.0f);
      std::fill(row + (pw + g.W) * block, row + Wp * block, 0.0f);
      float* px = row + pw * block;
      const int64_t channels = std::min(block, g.C - cb * block);
      const float* src = x + cb * block * HW + i * g.W;
      int64_t j = 0;
      if (channels == kInBlock) {
        for (; j + 8 <= g.W; j += 8) {
          __m256 v[8];
          for (int64_t c = 0; c < 8; ++c) v[c] = _mm256_loadu_ps(src + c * HW + j);
          transpose_8x8(v);
          for (int64_t q = 0; q < 8; ++q) _mm256_storeu_ps(px + (j + q) * kInBlock, v[q]);
        }
      }
      for (; j < g.W; ++j)
        for (int64_t c = 0; c < block; ++c) px[j * block + c] = c < channels ? src[c * HW + j] : 0.0f;
    }
  });
}

}  // namespace

bool conv2d_direct_applies(const ConvGeometry& g) {
  const auto& p = g.p;
  if (g.groups != 1 || p.dilation_h != 1 || p.dilation_w != 1 || p.stride_h != p.stride_w) return false;
  if (p.stride_h > 2 || g.KH * g.KW < 4 || g.OH * g.OW < 1) return false;
  // Whole blocks of 8 input channels from 16 up; up to 8, one block of them
  // all, given enough values per output pixel for a tile to pay for its
  // overheads and the input's interleaving: ResNet's RGB 7x7 stem (147
  // values, 1.3x the product's speed), not MobileNetV2's 3x3 (27 values,
  // 0.88x).
  if (!(g.C >= 16 || (g.C <= kInBlock && g.C * g.KH * g.KW >= 64))) return false;
  const int64_t weights = g.OC * g.C * g.KH * g.KW;
  // Packing the weights moves them three times (read, write, read) where
  // the product reads them once in place: it pays for itself over 784
  // output pixels at 147K weights (ResNet's 128-channel layers at 28x28,
  // 1.14-1.25x), not over 196 at 295K-590K (256 channels at 14x14: as fast
  // as the product, or slower).
  return weights <= (int64_t{1} << 16) || (weights <= (int64_t{1} << 19) && g.OH * g.OW >= 392);
}

DirectConv2d::DirectConv2d(const float* weight, const ConvGeometry& g)
    : g_(g),
      in_block_(std::min(kInBlock, g.C)),
      in_blocks_((g.C + in_block_ - 1) / in_block_),
      out_blocks_((g.OC + kOutBlock - 1) / kOutBlock),
      padded_h_(g.H + 2 * g.p.pad_h),
      padded_w_(g.W + 2 * g.p.pad_w) {
  const TensorOptions f32(DType::Float32, Device(DeviceType::CPU));
  packed_weight_ = empty({out_blocks_ * in_blocks_ * g.KH * g.KW * in_block_ * kOutBlock}, f32);
  pack_weights(weight, g, in_block_, in_blocks_, out_blocks_, static_cast<float*>(packed_weight_.data_ptr()));
  const int64_t ohw = g.OH * g.OW, row_stride = padded_w_ * in_block_;
  offsets_.resize(static_cast<size_t>(ohw));
  for (int64_t i = 0; i < ohw; ++i)
    offsets_[static_cast<size_t>(i)] = (i / g.OW * row_stride + i % g.OW * in_block_) * g.p.stride_h;
}

void DirectConv2d::forward(const float* x, float* y, const SgemmEpilogue* finish) const {
  const ConvGeometry& g = g_;
  const int64_t block_stride = padded_h_ * padded_w_ * in_block_;
  const int64_t row_stride = padded_w_ * in_block_, ohw = g.OH * g.OW, row_values = g.KW * in_block_;
  const int64_t weights_per_block = g.KH * g.KW * in_block_ * kOutBlock;
  const TensorOptions f32(DType::Float32, Device(DeviceType::CPU));
  const Tensor packed_input = empty({in_blocks_ * block_stride}, f32);  // every value written
  const float* in = static_cast<const float*>(packed_input.data_ptr());
  pack_input(x, g, in_block_, in_blocks_, padded_h_, padded_w_, static_cast<float*>(packed_input.data_ptr()));
  const float* packed_w = static_cast<const float*>(packed_weight_.data_ptr());
  const int64_t pixel_blocks = (ohw + kBlockPixels - 1) / kBlockPixels;
  parallel_for(pixel_blocks * out_blocks_, 1, [&](int64_t i0, int64_t i1) {
    alignas(32) float sums[kBlockPixels * kOutBlock];
    for (int64_t item = i0; item < i1; ++item) {
      // Output channel blocks innermost: consecutive items read the same input.
      const int64_t pb = item / out_blocks_, ob = item % out_blocks_;
      const int64_t p0 = pb * ohw / pixel_blocks, pixels = (pb + 1) * ohw / pixel_blocks - p0;
      const int64_t channels = std::min(kOutBlock, g.OC - ob * kOutBlock);
      const int64_t tiles = (pixels + kTile - 1) / kTile;
      for (int64_t cb = 0; cb < in_blocks_; cb += kChunk) {
        const int64_t blocks = std::min(kChunk, in_blocks_ - cb);
        const float* weights = packed_w + (ob * in_blocks_ + cb) * weights_per_block;
        // Tiles of kTile - 1 or kTile pixels rather than whole ones and a short last one.
        for (int64_t t = 0, q = 0; t < tiles; ++t) {
          const int64_t width = pixels * (t + 1) / tiles - q;
          tile_of(width, in + cb * block_stride, offsets_.data() + p0 + q, block_stride, row_stride, weights, blocks,
                  g.KH, row_values, sums + q * kOutBlock, cb == 0);
          q += width;
        }
      }
      // sums[pixel][16] into the output rows y[ob*16 + o][p0 + pixel].
      float* out = y + ob * kOutBlock * ohw + p0;
      int64_t j = 0;
      for (; j + 8 <= pixels; j += 8) {
        for (int64_t half = 0; half < channels; half += 8) {
          __m256 v[8];
          for (int64_t q = 0; q < 8; ++q) v[q] = _mm256_loadu_ps(sums + (j + q) * kOutBlock + half);
          transpose_8x8(v);
          for (int64_t o = 0; o < std::min<int64_t>(8, channels - half); ++o)
            _mm256_storeu_ps(out + (half + o) * ohw + j, v[o]);
        }
      }
      for (; j < pixels; ++j)
        for (int64_t o = 0; o < channels; ++o) out[o * ohw + j] = sums[j * kOutBlock + o];
      if (finish) finish->run(finish->context, out, ohw, ob * kOutBlock, p0, channels, pixels);
    }
  });
}

#else  // no AVX2/FMA in this build: the matrix product runs every convolution.

bool conv2d_direct_applies(const ConvGeometry&) { return false; }

DirectConv2d::DirectConv2d(const float*, const ConvGeometry& g) : g_(g) {
  throw std::logic_error("DirectConv2d: this build has no AVX2/FMA kernel; check conv2d_direct_applies() first");
}

void DirectConv2d::forward(const float*, float*, const SgemmEpilogue*) const {}

#endif

}  // namespace ember
