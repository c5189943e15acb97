// Direct convolution over channel blocks: see conv2d_direct.h.
#include "kernels/cpu/conv2d_direct.h"

#include <algorithm>
#include <array>
#include <utility>
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
constexpr int64_t kChunkTaps = 144;     // input channel blocks x taps per pass over a pixel block: 16 blocks of 3x3
constexpr int64_t kBlockPixels = 128;   // output pixels per work item

#if defined(__AVX512F__)
constexpr int kMaxGroup = 4;            // output channel blocks per tile, up to 64 channels
#else
constexpr int kMaxGroup = 1;
#endif
constexpr int kAccumulators = 24;       // registers of sums per tile, at most (12 with AVX2)

// Pixels per tile for tiles over `blocks` output channel blocks: twelve
// with one or two blocks, eight with three, six with four (AVX-512: 24 of
// the 32 registers hold sums); six with AVX2's one block of two registers.
constexpr int64_t tile_pixels(int64_t blocks) {
  return kMaxGroup == 1 ? kTile : std::min<int64_t>(kTile, kAccumulators / blocks);
}

// Tile of P output pixels x Q blocks of 16 output channels over the input
// channel blocks [0, blocks) of a chunk. Pixel p's input window starts at
// in + offsets[p] (its top-left tap, channel block 0); channel block b lies
// block_stride floats further, kernel row ki row_stride further; a kernel
// row's taps are row_values = KW x (channels per block) contiguous values.
// weights: output block q's packed weights for the chunk, at weights +
// q * group_stride, [block][ki][kj][channel][16]. The sums start from zero
// (first chunk) or from sums[q * sums_stride + p * 16], and go back there.
// Each input value is broadcast once for the Q blocks and each weight
// vector loaded once for the P pixels: Q + P loads per P x Q multiply-adds.
template <int P, int Q>
[[gnu::always_inline]] inline void tile(const float* in, const int64_t* offsets, int64_t block_stride,
                                        int64_t row_stride, const float* weights, int64_t group_stride,
                                        int64_t blocks, int64_t KH, int64_t row_values, float* sums,
                                        int64_t sums_stride, bool first) {
  // With AVX-512 the 16 output channels are one register; with AVX2, two
  // (lanes16.h).
  Lanes16 acc[Q][P];
  for (int q = 0; q < Q; ++q)
    for (int p = 0; p < P; ++p)
      acc[q][p] = first ? Lanes16::zero() : Lanes16::load(sums + q * sums_stride + p * kOutBlock);
  const float* pixel[P];
  for (int p = 0; p < P; ++p) pixel[p] = in + offsets[p];
  // Along one kernel row the KW taps' channels are contiguous values (at
  // stride 2 as well: the taps of a window are adjacent pixels of the
  // padded input), read with one counter.
  for (int64_t b = 0; b < blocks; ++b) {
    for (int64_t ki = 0; ki < KH; ++ki, weights += row_values * kOutBlock) {
      const int64_t base = b * block_stride + ki * row_stride;
#pragma GCC unroll 2
      for (int64_t t = 0; t < row_values; ++t) {
        Lanes16 w[Q];
        for (int q = 0; q < Q; ++q) w[q] = Lanes16::load(weights + q * group_stride + t * kOutBlock);
        for (int p = 0; p < P; ++p) {
          const float x = pixel[p][base + t];
          for (int q = 0; q < Q; ++q) acc[q][p] = fmadd(x, w[q], acc[q][p]);  // unrolled: in registers
        }
      }
    }
  }
  for (int q = 0; q < Q; ++q)
    for (int p = 0; p < P; ++p) acc[q][p].store(sums + q * sums_stride + p * kOutBlock);
}

using TileFn = void (*)(const float*, const int64_t*, int64_t, int64_t, const float*, int64_t, int64_t, int64_t,
                        int64_t, float*, int64_t, bool);

// tile<P, Q> for P = 1 .. tile_pixels(Q).
template <int Q, int... I>
constexpr std::array<TileFn, sizeof...(I)> tiles_of(std::integer_sequence<int, I...>) {
  return {&tile<I + 1, Q>...};
}

void tile_of(int64_t pixels, int64_t group, const float* in, const int64_t* offsets, int64_t block_stride,
             int64_t row_stride, const float* weights, int64_t group_stride, int64_t blocks, int64_t KH,
             int64_t row_values, float* sums, int64_t sums_stride, bool first) {
  static constexpr auto one = tiles_of<1>(std::make_integer_sequence<int, tile_pixels(1)>());
#if defined(__AVX512F__)
  static constexpr auto two = tiles_of<2>(std::make_integer_sequence<int, tile_pixels(2)>());
  static constexpr auto three = tiles_of<3>(std::make_integer_sequence<int, tile_pixels(3)>());
  static constexpr auto four = tiles_of<4>(std::make_integer_sequence<int, tile_pixels(4)>());
  const TileFn* table[] = {one.data(), two.data(), three.data(), four.data()};
#else
  const TileFn* table[] = {one.data()};
#endif
  if (group < 1 || group > kMaxGroup || pixels < 1 || pixels > tile_pixels(group))
    throw std::logic_error("conv2d_direct: a tile has 1 to tile_pixels(blocks) pixels");
  table[group - 1][pixels - 1](in, offsets, block_stride, row_stride, weights, group_stride, blocks, KH, row_values,
                               sums, sums_stride, first);
}

// Output channel block ob, input channel block cb of w[OC][C][KH][KW] into
// dst[KH*KW][B][16] (B = block channels), zeros past OC and C.
// A whole block goes through 8x8 transposes: eight output channels' rows of
// 8*KH*KW contiguous values (input channel, tap) become, per (channel,
// tap), eight output channels' values side by side.
void pack_weight_block(const float* w, const ConvGeometry& g, int64_t block, int64_t ob, int64_t cb, float* dst) {
  const int64_t taps = g.KH * g.KW, row = g.C * taps, block_size = taps * block * kOutBlock;
  const int64_t oc_count = std::min(kOutBlock, g.OC - ob * kOutBlock), c_count = std::min(block, g.C - cb * block);
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
    return;
  }
  std::fill(dst, dst + block_size, 0.0f);
  for (int64_t o = 0; o < oc_count; ++o)
    for (int64_t col = 0; col < c_count * taps; ++col) *put(col, o) = src[o * row + col];
}

// n pixels of `channels` planes (HW floats apart) from src into dst's
// [n][block] (channels past `channels` zero); whole runs of eight pixels of
// eight channels through 8x8 transposes.
void interleave(const float* src, int64_t HW, int64_t n, int64_t channels, int64_t block, float* dst) {
  int64_t j = 0;
  if (channels == kInBlock) {
    for (; j + 8 <= n; j += 8) {
      __m256 v[8];
      for (int64_t c = 0; c < 8; ++c) v[c] = _mm256_loadu_ps(src + c * HW + j);
      transpose_8x8(v);
      for (int64_t q = 0; q < 8; ++q) _mm256_storeu_ps(dst + (j + q) * kInBlock, v[q]);
    }
  }
  for (; j < n; ++j)
    for (int64_t c = 0; c < block; ++c) dst[j * block + c] = c < channels ? src[c * HW + j] : 0.0f;
}

// x[C][H][W] into [C/B][Hp][Wp][B] (B = block channels) with the padding
// (and the channels past C) zero, over threads by (padded row, block).
// Unpadded (a 1x1 kernel), a block's plane is one run of H*W pixels: a 7x7
// map's rows are under the eight pixels of a transpose, its plane is not.
void pack_input(const float* x, const ConvGeometry& g, int64_t block, int64_t in_blocks, int64_t Hp, int64_t Wp,
                float* out) {
  const int64_t HW = g.H * g.W, ph = g.p.pad_h, pw = g.p.pad_w;
  const bool unpadded = ph == 0 && pw == 0;
  // Over threads from 64K values on: below, waking the threads cost more
  // than the copy (a 7x7 map of 576 channels: 28K values).
  const int64_t rows = unpadded ? in_blocks : in_blocks * Hp, row_values = (unpadded ? HW : Wp) * block;
  const int64_t grain = rows * row_values < (int64_t{1} << 16) ? rows : std::max<int64_t>(1, 4096 / row_values);
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      // Padded, rows outermost: a thread packs a band of rows of every
      // block, the band its pixel blocks read (forward's items split the
      // same way).
      const int64_t cb = unpadded ? r : r % in_blocks, i = unpadded ? 0 : r / in_blocks - ph;
      const int64_t channels = std::min(block, g.C - cb * block);
      float* row = out + (unpadded ? r : cb * Hp + i + ph) * row_values;
      if (unpadded) {
        interleave(x + cb * block * HW, HW, HW, channels, block, row);
        continue;
      }
      if (i < 0 || i >= g.H) {
        std::fill(row, row + row_values, 0.0f);
        continue;
      }
      std::fill(row, row + pw * block, 0.0f);
      std::fill(row + (pw + g.W) * block, row + row_values, 0.0f);
      interleave(x + cb * block * HW + i * g.W, HW, g.W, channels, block, row + pw * block);
    }
  });
}

}  // namespace

bool conv2d_direct_applies(const ConvGeometry& g, bool packing_paid) {
  const auto& p = g.p;
  if (g.groups != 1 || p.dilation_h != 1 || p.dilation_w != 1 || p.stride_h != p.stride_w) return false;
  if (p.stride_h > 2 || g.OH * g.OW < 1) return false;
  // A 1x1 kernel only on maps of at most 64 pixels, with its weights kept
  // packed: there the product computes a whole 16-column panel for a 7x7
  // map's 49th column, and this kernel's tiles over four output blocks ran
  // 1.12-1.41x faster (MobileNetV2's and ResNet-50's 1x1 layers at 7x7, one
  // thread). On 14x14 maps and larger the product is faster (0.72-0.93x).
  // Other kernels from 2x2 up.
  const int64_t taps = g.KH * g.KW;
  if (taps == 1 ? !(packing_paid && g.OH * g.OW <= 64) : taps < 4) return false;
  // Whole blocks of 8 input channels from 16 up; up to 8, one block of them
  // all, given enough values per output pixel for a tile to pay for its
  // overheads and the input's interleaving: ResNet's RGB 7x7 stem (147
  // values, 1.3x the product's speed), not MobileNetV2's 3x3 (27 values,
  // 0.88x).
  if (!(g.C >= 16 || (g.C <= kInBlock && g.C * g.KH * g.KW >= 64))) return false;
  if (packing_paid) return true;
  const int64_t weights = g.OC * g.C * g.KH * g.KW;
  // Packing the weights on each call moves them three times (read, write, read) where
  // the product reads them once in place: it pays for itself over 784
  // output pixels at 147K weights (ResNet's 128-channel layers at 28x28,
  // 1.14-1.25x), not over 196 at 295K-590K (256 channels at 14x14: as fast
  // as the product, or slower).
  return weights <= (int64_t{1} << 16) || (weights <= (int64_t{1} << 19) && g.OH * g.OW >= 392);
}

int64_t DirectConv2d::packed_weight_size(const ConvGeometry& g) {
  const int64_t block = std::min(kInBlock, g.C), in_blocks = (g.C + block - 1) / block;
  return (g.OC + kOutBlock - 1) / kOutBlock * in_blocks * g.KH * g.KW * block * kOutBlock;
}

void DirectConv2d::pack_weights(const float* weight, const ConvGeometry& g, float* out) {
  const int64_t block = std::min(kInBlock, g.C), in_blocks = (g.C + block - 1) / block;
  const int64_t out_blocks = (g.OC + kOutBlock - 1) / kOutBlock, block_size = g.KH * g.KW * block * kOutBlock;
  parallel_for(out_blocks * in_blocks, 4, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      pack_weight_block(weight, g, block, i / in_blocks, i % in_blocks, out + i * block_size);
  });
}

DirectConv2d::DirectConv2d(const float* weight, const ConvGeometry& g)
    : DirectConv2d(empty({packed_weight_size(g)}, TensorOptions(DType::Float32, Device(DeviceType::CPU))), g) {
  pack_weights(weight, g, static_cast<float*>(packed_weight_.data_ptr()));
}

DirectConv2d::DirectConv2d(Tensor packed_weight, const ConvGeometry& g)
    : g_(g),
      in_block_(std::min(kInBlock, g.C)),
      in_blocks_((g.C + in_block_ - 1) / in_block_),
      out_blocks_((g.OC + kOutBlock - 1) / kOutBlock),
      padded_h_(g.H + 2 * g.p.pad_h),
      padded_w_(g.W + 2 * g.p.pad_w),
      packed_weight_(std::move(packed_weight)) {
  if (packed_weight_.numel() != packed_weight_size(g))
    throw std::logic_error("DirectConv2d: packed weights of the wrong size for this convolution");
  const int64_t ohw = g.OH * g.OW, row_stride = padded_w_ * in_block_;
  offsets_.resize(static_cast<size_t>(ohw));
  for (int64_t i = 0; i < ohw; ++i)
    offsets_[static_cast<size_t>(i)] = (i / g.OW * row_stride + i % g.OW * in_block_) * g.p.stride_h;
}

void DirectConv2d::forward(const float* x, float* y, const SgemmEpilogue* finish,
                           const RegisterEpilogue& in_register) const {
  const ConvGeometry& g = g_;
  const int64_t block_stride = padded_h_ * padded_w_ * in_block_;
  const int64_t row_stride = padded_w_ * in_block_, ohw = g.OH * g.OW, row_values = g.KW * in_block_;
  const int64_t weights_per_block = g.KH * g.KW * in_block_ * kOutBlock;
  const float* packed_w = static_cast<const float*>(packed_weight_.data_ptr());
  const int64_t pixel_blocks = (ohw + kBlockPixels - 1) / kBlockPixels;
  // Groups of up to kMaxGroup output channel blocks. Of few items, a
  // multiple of the threads (or one group per block), so that no thread is
  // left without work (DenseNet's 32 channels at 7x7: two groups of one
  // block) and each gets as many blocks as the others or one more
  // (MobileNetV2's 160 channels at 7x7: four groups of 2 or 3 blocks, not
  // three of 3 or 4 for two threads).
  const int64_t threads = cpu_threads();
  int64_t groups = (out_blocks_ + kMaxGroup - 1) / kMaxGroup;
  if (pixel_blocks * groups < 8 * threads)
    while (groups < out_blocks_ && pixel_blocks * groups % threads != 0) ++groups;
  const int64_t ob_stride = in_blocks_ * weights_per_block;
  const int64_t chunk = std::max<int64_t>(2, kChunkTaps / (g.KH * g.KW));
  // Threads only for at least 2M multiply-adds (as sgemm.cpp): waking them
  // cost more than EfficientNet's squeeze-and-excitation 1x1 convolutions
  // on 1x1 maps take.
  const int64_t items = pixel_blocks * groups;
  const bool large = g.OC * g.C * g.KH * g.KW * ohw >= (int64_t{1} << 21);
  const int64_t workers = large ? std::min<int64_t>(items, threads) : 1;
  // On a map of one pixel block every item reads the whole input: each
  // thread packs its own copy, in its own cache. One copy packed by one
  // thread and read by another made that thread's items 1.6x slower (the
  // lines crossing between cores' caches; MobileNetV2's 1x1 layers at 7x7
  // ran no faster on two threads than on one). Larger maps share one copy,
  // packed over threads by rows.
  const bool copy_per_thread = pixel_blocks == 1 && workers > 1;
  const int64_t packed_size = in_blocks_ * block_stride;
  Tensor shared_input;
  if (!copy_per_thread) {
    shared_input = empty({packed_size}, TensorOptions(DType::Float32, Device(DeviceType::CPU)));  // every value written
    pack_input(x, g, in_block_, in_blocks_, padded_h_, padded_w_, static_cast<float*>(shared_input.data_ptr()));
  }
  // Each thread a contiguous range of items: of pixel blocks, the band of
  // rows it packed.
  parallel_for(items, items / workers, [&](int64_t i0, int64_t i1) {
    alignas(64) float sums[kMaxGroup * kBlockPixels * kOutBlock];
    const float* in;
    if (copy_per_thread) {
      thread_local std::vector<float> own;  // only grows: no page faults per call
      if (own.size() < static_cast<size_t>(packed_size)) own.resize(static_cast<size_t>(packed_size));
      pack_input(x, g, in_block_, in_blocks_, padded_h_, padded_w_, own.data());  // inside the region: this thread
      in = own.data();
    } else {
      in = static_cast<const float*>(shared_input.data_ptr());
    }
    for (int64_t item = i0; item < i1; ++item) {
      // Output channel groups innermost: consecutive items read the same input.
      const int64_t pb = item / groups, gi = item % groups;
      const int64_t ob0 = gi * out_blocks_ / groups, group = (gi + 1) * out_blocks_ / groups - ob0;
      const int64_t p0 = pb * ohw / pixel_blocks, pixels = (pb + 1) * ohw / pixel_blocks - p0;
      const int64_t tiles = (pixels + tile_pixels(group) - 1) / tile_pixels(group);
      for (int64_t cb = 0; cb < in_blocks_; cb += chunk) {
        const int64_t blocks = std::min(chunk, in_blocks_ - cb);
        const float* weights = packed_w + (ob0 * in_blocks_ + cb) * weights_per_block;
        // Tiles of equal width (within one) rather than whole ones and a short last one.
        for (int64_t t = 0, q = 0; t < tiles; ++t) {
          const int64_t width = pixels * (t + 1) / tiles - q;
          tile_of(width, group, in + cb * block_stride, offsets_.data() + p0 + q, block_stride, row_stride, weights,
                  ob_stride, blocks, g.KH, row_values, sums + q * kOutBlock, kBlockPixels * kOutBlock, cb == 0);
          q += width;
        }
      }
      for (int64_t q = 0; q < group; ++q) {
        // sums[q][pixel][16] into the output rows y[ob*16 + o][p0 + pixel].
        const int64_t ob = ob0 + q, channels = std::min(kOutBlock, g.OC - ob * kOutBlock);
        const float* block_sums = sums + q * kBlockPixels * kOutBlock;
        float* out = y + ob * kOutBlock * ohw + p0;
        int64_t j = 0;
        for (; j + 8 <= pixels; j += 8) {
          for (int64_t half = 0; half < channels; half += 8) {
            __m256 v[8];
            for (int64_t r = 0; r < 8; ++r) v[r] = _mm256_loadu_ps(block_sums + (j + r) * kOutBlock + half);
            transpose_8x8(v);
            for (int64_t o = 0; o < std::min<int64_t>(8, channels - half); ++o)
              _mm256_storeu_ps(out + (half + o) * ohw + j, in_register.apply(v[o], ob * kOutBlock + half + o));
          }
        }
        for (; j < pixels; ++j)
          for (int64_t o = 0; o < channels; ++o)
            out[o * ohw + j] = in_register.apply(block_sums[j * kOutBlock + o], ob * kOutBlock + o);
        if (finish) finish->run(finish->context, out, ohw, ob * kOutBlock, p0, channels, pixels);
      }
    }
  });
}

#else  // no AVX2/FMA in this build: the matrix product runs every convolution.

bool conv2d_direct_applies(const ConvGeometry&, bool) { return false; }

int64_t DirectConv2d::packed_weight_size(const ConvGeometry&) {
  throw std::logic_error("DirectConv2d: this build has no AVX2/FMA kernel; check conv2d_direct_applies() first");
}

void DirectConv2d::pack_weights(const float*, const ConvGeometry& g, float*) { packed_weight_size(g); }

DirectConv2d::DirectConv2d(const float*, const ConvGeometry& g) : g_(g) { packed_weight_size(g); }

DirectConv2d::DirectConv2d(Tensor, const ConvGeometry& g) : g_(g) { packed_weight_size(g); }

void DirectConv2d::forward(const float*, float*, const SgemmEpilogue*, const RegisterEpilogue&) const {}

#endif

}  // namespace ember
