// CPU 2-D convolution by im2col + GEMM (Eigen), per sample and group:
//   forward          out[OCg, OH*OW]  = W[OCg, Cg*KH*KW] x col[Cg*KH*KW, OH*OW]
//   backward input   col              = W^T x grad_out, then col2im adds col back into the image
//   backward weight  grad_W          += grad_out x col^T
// col holds, for every output pixel, the input patch it sees (zeros where the
// window hangs over the padding). A 1x1 stride-1 convolution skips im2col:
// the input plane already is col. So does, on the float32 kernel, a
// convolution whose output rows are nearly as wide as the padded input's
// (divided by the stride): its product reads rows of col straight from a
// zero-padded copy of the input, split into phases by the stride
// (reads_padded_input). On the float32 kernel, the forward of a spatial
// convolution with at least 16 input channels and small weights (DenseNet's
// 3x3 layers, ResNet's up to 128 channels, and ResNet's RGB 7x7 stem), and
// at inference every such convolution and 1x1 ones on maps of up to 64
// pixels (their packed weights kept: packed_weight_cache.h), skips the
// product altogether: conv2d_direct.cpp; so does the input gradient of
// a stride-1 convolution where that kernel takes it, as the convolution of
// grad_out with the weights turned around (backward_input_direct). On
// AVX-512 builds the forward of a 3x3 convolution of at most 4 input
// channels (MobileNet's and EfficientNet's RGB stems) goes to
// conv2d_few_channels.cpp instead (1.69x the product on MobileNetV2's).
// Depthwise convolutions (one input channel
// per group) go to depthwise_conv2d.cpp, where a GEMM would be all overhead.
// Channels-last calls go to conv2d_nhwc.cpp and depthwise_conv2d_nhwc.cpp.
// The products go to sgemm.cpp's AVX2 or AVX-512 kernels for float32 (AVX2: 1.2-1.4x Eigen's)
// and to Eigen for float64 (the gradient checks) or builds without AVX2.
// Threads: over samples when the batch has at least one per thread (each with
// its own col buffer), otherwise inside the product. Small output maps
// (under 128 pixels) put several samples' columns side by side in one
// product instead (samples_per_product).
// At inference an evaluation-mode batch norm, its activation and a residual
// sum can be folded in (conv2d_forward_batch_norm): each block of output
// rows goes through conv_epilogue.h right after its product, while it is
// still in cache, instead of in passes of their own over the whole output;
// on the float32 AVX2 kernel, each 72 x 512 block of the product as sgemm
// finishes it (so also a pointwise convolution's one product at batch 1).
// Cost: 2*N*OC*OH*OW*Cg*KH*KW flops; col adds Cg*KH*KW*OH*OW writes per sample.
#include <algorithm>
#include <memory>
#include <vector>

#include "engine/autograd/grad_mode.h"
#include "kernels/cpu/conv2d_direct.h"
#include "kernels/cpu/conv2d_few_channels.h"
#include "kernels/cpu/conv_gemm.h"
#include "kernels/cpu/conv_geometry.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/packed_weight_cache.h"
#include "kernels/cpu/even_odd_columns.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/widen_16bit.h"

namespace ember {
namespace {

// col[(c*KH + ki)*KW + kj, (oh - oh0)*OW + ow] = x[c, oh*sh - ph + ki*dh, ow*sw - pw + kj*dw]
// (0 outside the image), for the output rows oh in [oh0, oh1). Rows of col
// are `ld` apart (default: one block of columns; wider when several
// samples' columns sit side by side).
// Over threads by channel when called outside a parallel region: a 7x7
// map at batch 1 is one block, whose copy the product's second thread
// otherwise waited through (8% of ResNet's 512-channel 3x3 layer).
template <class T>
void im2col(const T* x, T* col, const ConvGeometry& g, int64_t oh0, int64_t oh1, int64_t ld = 0) {
  const auto& p = g.p;
  const int64_t ohw = ld > 0 ? ld : (oh1 - oh0) * g.OW;
  auto channel = [&](int64_t c) {
    for (int64_t ki = 0; ki < g.KH; ++ki) {
      for (int64_t kj = 0; kj < g.KW; ++kj) {
        T* row = col + ((c * g.KH + ki) * g.KW + kj) * ohw;
        const T* plane = x + c * g.H * g.W;
        for (int64_t oh = oh0; oh < oh1; ++oh) {
          int64_t ih = oh * p.stride_h - p.pad_h + ki * p.dilation_h;
          T* dst = row + (oh - oh0) * g.OW;
          if (ih < 0 || ih >= g.H) {
            std::fill(dst, dst + g.OW, T(0));
            continue;
          }
          const T* src = plane + ih * g.W;
          int64_t iw0 = kj * p.dilation_w - p.pad_w;
          if (p.stride_w == 1) {
            // Valid output columns: 0 <= ow + iw0 < W.
            int64_t lo = std::clamp<int64_t>(-iw0, 0, g.OW);
            int64_t hi = std::clamp<int64_t>(g.W - iw0, lo, g.OW);
            std::fill(dst, dst + lo, T(0));
            std::copy(src + lo + iw0, src + hi + iw0, dst + lo);
            std::fill(dst + hi, dst + g.OW, T(0));
          } else {
            // Valid output columns: 0 <= ow * stride + iw0 < W.
            const int64_t sw = p.stride_w;
            const int64_t lo = std::clamp<int64_t>(iw0 >= 0 ? 0 : (-iw0 + sw - 1) / sw, 0, g.OW);
            const int64_t hi = std::clamp<int64_t>(g.W - iw0 <= 0 ? 0 : (g.W - iw0 - 1) / sw + 1, lo, g.OW);
            std::fill(dst, dst + lo, T(0));
            int64_t ow = lo;
#if defined(__AVX2__)
            // Stride 2 in float32: eight columns per step from 16 (a 1x1
            // stride-2 layer's copy was a quarter of ResNet-18's downsample).
            if constexpr (std::is_same_v<T, float>) {
              if (sw == 2)
                for (; ow + 8 <= hi && 2 * ow + iw0 + 16 <= g.W; ow += 8)
                  _mm256_storeu_ps(dst + ow, even_columns_of_16(src + 2 * ow + iw0));
            }
#endif
            for (; ow < hi; ++ow) dst[ow] = src[ow * sw + iw0];
            std::fill(dst + hi, dst + g.OW, T(0));
          }
        }
      }
    }
  };
  const int64_t per_channel = std::max<int64_t>(1, g.KH * g.KW * (oh1 - oh0) * g.OW);
  parallel_for(g.Cg, std::max<int64_t>(1, 16384 / per_channel), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) channel(c);
  });
}

// The adjoint of im2col over output rows [oh0, oh1): x[c, ih, iw] += col[...]
// (rows of col `ld` apart, as there).
template <class T>
void col2im_add(const T* col, T* x, const ConvGeometry& g, int64_t oh0, int64_t oh1, int64_t ld = 0) {
  const auto& p = g.p;
  const int64_t ohw = ld > 0 ? ld : (oh1 - oh0) * g.OW;
  for (int64_t c = 0; c < g.Cg; ++c) {
    T* plane = x + c * g.H * g.W;
    for (int64_t ki = 0; ki < g.KH; ++ki) {
      for (int64_t kj = 0; kj < g.KW; ++kj) {
        const T* row = col + ((c * g.KH + ki) * g.KW + kj) * ohw;
        for (int64_t oh = oh0; oh < oh1; ++oh) {
          int64_t ih = oh * p.stride_h - p.pad_h + ki * p.dilation_h;
          if (ih < 0 || ih >= g.H) continue;
          const T* src = row + (oh - oh0) * g.OW;
          T* dst = plane + ih * g.W;
          int64_t iw0 = kj * p.dilation_w - p.pad_w;
          if (p.stride_w == 1) {
            int64_t lo = std::clamp<int64_t>(-iw0, 0, g.OW);
            int64_t hi = std::clamp<int64_t>(g.W - iw0, lo, g.OW);
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow + iw0] += src[ow];
          } else {
            for (int64_t ow = 0; ow < g.OW; ++ow) {
              int64_t iw = ow * p.stride_w + iw0;
              if (iw >= 0 && iw < g.W) dst[iw] += src[ow];
            }
          }
        }
      }
    }
  }
}

// Runs body(n, col_buffer) for every sample, over threads when the batch is
// large enough (then Eigen runs single-threaded inside each).
template <class T, class Body>
void for_each_sample(const ConvGeometry& g, int64_t col_elems, Body&& body) {
  if (g.N >= cpu_threads() && g.N > 1) {
    parallel_for(g.N, 1, [&](int64_t begin, int64_t end) {
      auto col = std::make_unique_for_overwrite<T[]>(static_cast<size_t>(col_elems));  // written before read
      for (int64_t n = begin; n < end; ++n) body(n, col.get());
    });
  } else {
    auto col = std::make_unique_for_overwrite<T[]>(static_cast<size_t>(col_elems));  // written before read
    for (int64_t n = 0; n < g.N; ++n) body(n, col.get());
  }
}

// Output rows per im2col block: about 1 MiB of col, so the block stays in
// cache between being written and being read by the GEMM.
inline int64_t rows_per_block(const ConvGeometry& g, int64_t K, size_t elem) {
  int64_t cols = static_cast<int64_t>((size_t{1} << 20) / (static_cast<size_t>(K) * elem));
  return std::clamp<int64_t>(cols / std::max<int64_t>(g.OW, 1), 1, g.OH);
}

// rows_per_block evened out for for_each_block's split over threads, which
// hands each thread an equal count of (sample, group, block) items: the
// count is rounded up to a multiple of the threads and every block gets the
// same height. (56 rows in blocks of 18 over two threads gave one thread 36
// rows and the other 20; a 7x7 map at batch 1 stays one product, which sgemm
// splits itself.)
inline int64_t balanced_rows(const ConvGeometry& g, int64_t rows) {
  const int64_t threads = cpu_threads(), per_block_row = g.N * g.groups;
  int64_t blocks = (g.OH + rows - 1) / rows;
  if (threads <= 1 || per_block_row * blocks <= 1) return rows;
  const int64_t items = (per_block_row * blocks + threads - 1) / threads * threads;
  blocks = std::min(g.OH, (items + per_block_row - 1) / per_block_row);
  return (g.OH + blocks - 1) / blocks;
}

// Samples whose columns go side by side into one product (1: a product
// per sample). A small output map (ResNet's last stage: 7x7 = 49 columns)
// makes a thin product: its last 16-column panel is mostly padding (64
// columns computed for 49) and, for the weight gradient, the sum over 49
// pixels is too short to pay for reading and writing the whole gradient
// once per sample. Several samples' columns side by side make it wide; the
// batch is cut into one or more such products per thread.
inline int64_t samples_per_product(const ConvGeometry& g, int64_t K, size_t elem) {
  const int64_t ohw = g.OH * g.OW, threads = cpu_threads();
  if (g.groups != 1 || ohw >= 128 || g.N < 2 * threads) return 1;
  const int64_t per_thread = std::max<int64_t>(1, g.N * ohw / (threads * 256));
  int64_t nb = (g.N + threads * per_thread - 1) / (threads * per_thread);
  // Keep the side-by-side col under 8 MiB.
  const int64_t fit = static_cast<int64_t>((size_t{8} << 20) / (static_cast<size_t>(K * ohw) * elem));
  return std::clamp<int64_t>(std::min(nb, fit), 1, g.N);
}

// Runs body(n0, n1, col, out) for the samples [n0, n1) of each product, over
// threads: col holds the product's K x (n1 - n0)*OH*OW columns and out its
// OC x columns result (or, for the input gradient, the gathered output gradient).
template <class T, class Body>
void for_each_sample_group(const ConvGeometry& g, int64_t nb, int64_t K, Body&& body) {
  const int64_t groups = (g.N + nb - 1) / nb, cols = nb * g.OH * g.OW;
  parallel_for(groups, 1, [&](int64_t begin, int64_t end) {
    // Written before read, so left uninitialised.
    auto col = std::make_unique_for_overwrite<T[]>(static_cast<size_t>(K * cols));
    auto out = std::make_unique_for_overwrite<T[]>(static_cast<size_t>(g.OC * cols));
    for (int64_t i = begin; i < end; ++i) body(i * nb, std::min(g.N, (i + 1) * nb), col.get(), out.get());
  });
}

// Runs body(n, group, oh0, oh1, col) for every (sample, group, block of
// output rows): these write disjoint parts of the output, so they spread
// over threads (each with its own col buffer, Eigen single-threaded inside);
// with a single item Eigen threads the one product instead.
template <class T, class Body>
void for_each_block(const ConvGeometry& g, int64_t rows, int64_t col_elems, Body&& body) {
  const int64_t blocks = (g.OH + rows - 1) / rows;
  const int64_t items = g.N * g.groups * blocks;
  auto run = [&](int64_t begin, int64_t end) {
    auto col = std::make_unique_for_overwrite<T[]>(static_cast<size_t>(col_elems));  // written before read
    for (int64_t i = begin; i < end; ++i) {
      int64_t blk = i % blocks, grp = (i / blocks) % g.groups, n = i / (blocks * g.groups);
      body(n, grp, blk * rows, std::min(g.OH, (blk + 1) * rows), col.get());
    }
  };
  if (items > 1 && cpu_threads() > 1) {
    parallel_for(items, 1, run);
  } else {
    run(0, items);
  }
}

// The bias and the epilogue of one block of a convolution's output (one
// sample, one group, a run of output rows): channel c's row gets its bias
// added, then the epilogue (conv_epilogue.h). Called on parts of the block,
// rows [row0, row0 + rows) and columns [col0, col0 + cols), the first at
// `part`: sgemm calls it on each block of its product as that block becomes
// final, while it is in cache (a pointwise convolution at batch 1 is one
// product over the whole map; done after it, this read the whole output
// back from memory). Elementwise, so any cut gives the same numbers.
template <class T>
struct BlockFinish {
  const T* bias;  // the group's first channel's, or null
  const ConvEpilogue<T>* epi;
  int64_t channel0, offset, ohw;  // the group's first channel; the block's first element in the output; plane size

  void operator()(T* part, int64_t row_stride, int64_t row0, int64_t col0, int64_t rows, int64_t cols) const {
    for (int64_t i = row0; i < row0 + rows; ++i, part += row_stride) {
      if (bias)
        for (int64_t j = 0; j < cols; ++j) part[j] += bias[i];
      epi->channel_span(part, offset + i * ohw + col0, channel0 + i, cols);
    }
  }
};

// A convolution on the float32 kernel can skip im2col. With the input
// zero-padded to Hp x Wp planes and, for strides sh x sw, each plane split
// into its sh*sw phases (phase (r, q): the Hq x Wq plane of padded pixels
// (i*sh + r, j*sw + q); one phase, the padded plane itself, at stride 1),
// tap (ki, kj) of output pixel (oh, ow) reads padded pixel (oh*sh + ki*dh,
// ow*sw + kj*dw): in phase ((ki*dh) % sh, (kj*dw) % sw), at (oh + ki*dh/sh,
// ow + kj*dw/sw). So, with the output laid out at the phase width (column
// j = oh*Wq + ow), row k = (c, ki, kj) of im2col's matrix is a run of that
// phase starting at the tap's offset: sgemm's OffsetRows. The price is the
// Wq - OW columns per output row that are computed and dropped, which is
// why only maps where they are at most 1/8 of Wq take this path (56 + 2 for
// ResNet's first stage, where im2col's nine copies of a 64-channel input
// cost most against the product's 64 rows; the 7x7 stride-2 stem's 115
// for 112, where they are 49/4 copies). Same products, same order along K:
// the same bits as through im2col. Every phase must be read by some tap
// (a kernel at least as large as the stride), or copying it is waste: a
// strided 1x1 convolution (ResNet's downsampling) keeps im2col.
struct PhasePlanes {
  int64_t sh, sw, Hq, Wq;

  explicit PhasePlanes(const ConvGeometry& g)
      : sh(g.p.stride_h), sw(g.p.stride_w), Hq((g.H + 2 * g.p.pad_h + sh - 1) / sh),
        Wq((g.W + 2 * g.p.pad_w + sw - 1) / sw) {}
  int64_t channel_size() const { return sh * sw * Hq * Wq; }
  // Where row (c, ki, kj) of im2col's matrix starts.
  int64_t offset(int64_t c, int64_t dy, int64_t dx) const {
    return ((c * sh + dy % sh) * sw + dx % sw) * Hq * Wq + dy / sh * Wq + dx / sw;
  }
};

bool reads_padded_input(const ConvGeometry& g) {
  const auto& p = g.p;
  if (!sgemm_available() || g.pointwise() || g.KH < p.stride_h || g.KW < p.stride_w) return false;
  const int64_t Wq = PhasePlanes(g).Wq;
  return g.OCg >= 6 && (Wq - g.OW) * 8 <= Wq && (g.OH - 1) * Wq + g.OW >= 16;
}

// xq = the Cg planes at x, zero-padded and split into their phases, over
// threads by rows of the phases (a stem's three channels are 3 x 4 phases
// of 113 rows at stride 2).
void split_padded(const float* x, float* xq, const ConvGeometry& g, const PhasePlanes& ph) {
  const auto& p = g.p;
  const int64_t rows = g.Cg * ph.sh * ph.sw * ph.Hq;
  parallel_for(rows, std::max<int64_t>(1, 8192 / ph.Wq), [&](int64_t row0, int64_t row1) {
    for (int64_t t = row0; t < row1; ++t) {
      // Row i of phase (r, q) of channel c.
      const int64_t i = t % ph.Hq, q = t / ph.Hq % ph.sw, r = t / (ph.Hq * ph.sw) % ph.sh;
      const int64_t c = t / (ph.Hq * ph.sw * ph.sh);
      float* row = xq + t * ph.Wq;
      const int64_t y = i * ph.sh + r - p.pad_h;
      if (y < 0 || y >= g.H) {
        std::fill(row, row + ph.Wq, 0.0f);
        continue;
      }
      // Phase columns j with an image pixel: 0 <= j*sw + q - pad_w < W.
      const int64_t j0 = std::clamp<int64_t>((p.pad_w - q + ph.sw - 1) / ph.sw, 0, ph.Wq);
      const int64_t j1 = std::clamp<int64_t>((g.W + p.pad_w - q + ph.sw - 1) / ph.sw, j0, ph.Wq);
      const float* src = x + (c * g.H + y) * g.W;  // phase column j is src[j * sw + q - pad_w]
      std::fill(row, row + j0, 0.0f);
      if (ph.sw == 1) {
        std::copy(src + j0 - p.pad_w, src + j1 - p.pad_w, row + j0);
      } else {
        int64_t j = j0;
#if defined(__AVX2__)
        if (ph.sw == 2) {
          // Eight phase columns from 16 image columns: the even ones of
          // each 8, in order (while all 16 lie in the image row).
          for (; j + 8 <= j1 && 2 * j + q - p.pad_w + 16 <= g.W; j += 8)
            _mm256_storeu_ps(row + j, even_columns_of_16(src + 2 * j + q - p.pad_w));
        }
#endif
        for (; j < j1; ++j) row[j] = src[j * ph.sw + q - p.pad_w];
      }
      std::fill(row + j1, row + ph.Wq, 0.0f);
    }
  });
}

// The epilogue of a product laid out at the phase width (Wq), whose column
// 0 is column j_base of the whole map's (the product of a block of output
// rows): each output row's OW valid columns of a block are copied to the
// output, where those of a row of the block are one run, which then gets
// its BlockFinish (bias, folded batch norm, activation, residual) in one
// call (a call per output row cost MobileNetV2's stem, rows of 112, 3% of
// the model).
struct PaddedFinish {
  BlockFinish<float> finish;
  float* y;  // the group's first channel's output plane
  int64_t Wq, OW, ohw, j_base;

  void operator()(const float* block, int64_t row_stride, int64_t row0, int64_t col0, int64_t rows,
                  int64_t cols) const {
    col0 += j_base;
    const int64_t first = col0 / Wq * OW + std::min(col0 % Wq, OW);  // the block's first output pixel
    for (int64_t i = row0; i < row0 + rows; ++i, block += row_stride) {
      float* run = y + i * ohw + first;
      int64_t len = 0;
      for (int64_t oh = col0 / Wq; oh * Wq < col0 + cols; ++oh) {
        const int64_t j0 = std::max(col0, oh * Wq), j1 = std::min(col0 + cols, oh * Wq + OW);
        if (j0 >= j1) continue;
        std::copy(block + (j0 - col0), block + (j1 - col0), run + len);
        len += j1 - j0;
      }
      if (len > 0) finish(run, ohw, i, first, 1, len);
    }
  }
};

// forward_typed's float32 path for reads_padded_input convolutions: a
// product per (sample, group) and block of output rows, the blocks' results
// at most 8 MiB (one block at ImageNet sizes; a 64-channel map of 1024 x
// 1024 would otherwise hold a second copy of the whole output); over
// threads by (sample, group) when there is one per thread, otherwise split
// by sgemm itself.
void forward_padded(float* y, const float* x, const float* w, const float* b, const ConvGeometry& g,
                    const ConvEpilogue<float>& epi) {
  const auto& p = g.p;
  const PhasePlanes ph(g);
  const int64_t K = g.Cg * g.KH * g.KW, ohw = g.OH * g.OW;
  const int64_t block_rows = std::clamp<int64_t>((int64_t{8} << 20) / (4 * g.OCg * ph.Wq), 1, g.OH);
  const int64_t block_cols = (block_rows - 1) * ph.Wq + g.OW;  // through a block's last output pixel
  std::vector<int64_t> offsets(static_cast<size_t>(K));
  for (int64_t c = 0; c < g.Cg; ++c)
    for (int64_t ki = 0; ki < g.KH; ++ki)
      for (int64_t kj = 0; kj < g.KW; ++kj)
        offsets[static_cast<size_t>((c * g.KH + ki) * g.KW + kj)] = ph.offset(c, ki * p.dilation_h, kj * p.dilation_w);
  const int64_t items = g.N * g.groups;
  auto run = [&](int64_t begin, int64_t end) {
    // From the CPU allocator's cache of freed blocks (engine/cpu_allocator.cpp):
    // from malloc, blocks this size were fresh pages to fault in at every
    // call (MobileNetV2's and EfficientNet-B0's stems, 2.2 MB, 2-3% of the
    // model). Written before read.
    const TensorOptions f32(DType::Float32, Device(DeviceType::CPU));
    const Tensor xq_buffer = empty({g.Cg * ph.channel_size()}, f32), prod_buffer = empty({g.OCg * block_cols}, f32);
    float* const xq = static_cast<float*>(xq_buffer.data_ptr());
    float* const prod = static_cast<float*>(prod_buffer.data_ptr());
    for (int64_t i = begin; i < end; ++i) {
      const int64_t n = i / g.groups, grp = i % g.groups;
      split_padded(x + (n * g.C + grp * g.Cg) * g.H * g.W, xq, g, ph);
      const int64_t first = (n * g.OC + grp * g.OCg) * ohw;  // the group's first output element
      for (int64_t oh0 = 0; oh0 < g.OH; oh0 += block_rows) {
        const int64_t j_base = oh0 * ph.Wq, cols = (std::min(block_rows, g.OH - oh0) - 1) * ph.Wq + g.OW;
        const PaddedFinish finish{{b ? b + grp * g.OCg : nullptr, &epi, grp * g.OCg, first, ohw}, y + first, ph.Wq,
                                  g.OW, ohw, j_base};
        const SgemmEpilogue hook = sgemm_epilogue(finish);
        sgemm(g.OCg, cols, K, {w + grp * g.OCg * K, K, 1}, OffsetRows{xq + j_base, offsets.data()},
              {prod, cols, 1}, false, &hook);
      }
    }
  };
  if (items >= cpu_threads() && items > 1) {
    parallel_for(items, 1, run);
  } else {
    run(0, items);
  }
}

// Weights that no gradient will change during this forward pass (no
// gradient is recorded, or they are frozen) keep their packed form between
// calls (packed_weight_cache.h): inference, a frozen backbone. A training
// step's weights change every step, and a batch of samples repays packing
// them once per call.
bool keeps_packed_weights(const Tensor& weight) {
  return !grad_mode_enabled() || !weight.requires_grad();
}

// forward_typed's float32 path for conv2d_direct_applies convolutions: the
// weights packed once (per call, or kept), then each sample (threads
// inside), its bias and epilogue on each block of output as the kernel
// finishes it.
void forward_direct(float* y, const float* x, const Tensor& weight, const float* b, const ConvGeometry& g,
                    const ConvEpilogue<float>& epi, bool keep) {
  const float* w = static_cast<const float*>(weight.data_ptr());
  const DirectConv2d conv = [&] {
    if (!keep) return DirectConv2d(w, g);
    const PackedWeightCache::Layout layout{/* this kernel's tag */ 1, g.OC, g.C, g.KH, g.KW};
    return DirectConv2d(packed_weight_cache().get(weight, layout, DirectConv2d::packed_weight_size(g),
                                                  [&](float* out) { DirectConv2d::pack_weights(w, g, out); }),
                        g);
  }();
  const int64_t ohw = g.OH * g.OW;
  // Without a bias, a batch norm and ReLU/ReLU6 go in the registers of the
  // kernel's transposes; a bias or a residual sum take the pass over each block.
  const int mode = epi.register_mode();
  const bool in_register = !b && mode > 0;
  const RegisterEpilogue register_epilogue =
      in_register ? RegisterEpilogue{mode, epi.scales(), epi.shifts()} : RegisterEpilogue{};
  for (int64_t n = 0; n < g.N; ++n) {
    const BlockFinish<float> finish{b, &epi, 0, n * g.OC * ohw, ohw};
    const SgemmEpilogue hook = sgemm_epilogue(finish);
    const bool pass = !in_register && (b || epi.active());
    conv.forward(x + n * g.C * g.H * g.W, y + n * g.OC * ohw, pass ? &hook : nullptr, register_epilogue);
  }
}

template <class T>
void forward_typed(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                   const ConvGeometry& g, const ConvEpilogueSpec& spec) {
  const ConvEpilogue<T> epi(spec, g.OC);
  const T* x = static_cast<const T*>(input.data_ptr());
  const T* w = static_cast<const T*>(weight.data_ptr());
  const T* b = bias.defined() ? static_cast<const T*>(bias.data_ptr()) : nullptr;
  T* y = static_cast<T*>(out.data_ptr());
  const int64_t K = g.Cg * g.KH * g.KW, ohw = g.OH * g.OW;
  if constexpr (std::is_same_v<T, float>) {
    if (conv2d_few_channels_applies(g)) return conv2d_few_channels_forward(y, x, w, b, g, epi);
    const bool keep = keeps_packed_weights(weight);
    if (conv2d_direct_applies(g, keep)) return forward_direct(y, x, weight, b, g, epi, keep);
  }
  if (const int64_t nb = samples_per_product(g, K, sizeof(T)); nb > 1) {
    // out[OC, (n - n0)*ohw + j] = W x col for samples side by side, then scattered to y[n, OC, j].
    for_each_sample_group<T>(g, nb, K, [&](int64_t n0, int64_t n1, T* col, T* prod) {
      const int64_t cols = (n1 - n0) * ohw;
      for (int64_t n = n0; n < n1; ++n) im2col(x + n * g.C * g.H * g.W, col + (n - n0) * ohw, g, 0, g.OH, cols);
      gemm<T>(g.OC, cols, K, {w, K, 1}, {col, cols, 1}, {prod, cols, 1}, false);
      for (int64_t n = n0; n < n1; ++n) {
        for (int64_t oc = 0; oc < g.OC; ++oc) {
          const T* src = prod + oc * cols + (n - n0) * ohw;
          T* dst = y + (n * g.OC + oc) * ohw;
          const T add = b ? b[oc] : T(0);
          for (int64_t j = 0; j < ohw; ++j) dst[j] = src[j] + add;
          epi.channel_span(dst, (n * g.OC + oc) * ohw, oc, ohw);
        }
      }
    });
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (reads_padded_input(g)) return forward_padded(y, x, w, b, g, epi);
  }
  const bool direct = g.pointwise();
  const int64_t rows = balanced_rows(g, rows_per_block(g, K, sizeof(T)));
  for_each_block<T>(g, rows, direct ? 0 : K * rows * g.OW, [&](int64_t n, int64_t grp, int64_t oh0, int64_t oh1, T* col) {
    const T* xg = x + (n * g.C + grp * g.Cg) * g.H * g.W;
    const int64_t cols = (oh1 - oh0) * g.OW;
    // A pointwise convolution reads its columns straight from the input planes.
    if (!direct) im2col(xg, col, g, oh0, oh1);
    const MatrixView<const T> cm{direct ? xg + oh0 * g.OW : col, direct ? g.H * g.W : cols, 1};
    T* yg = y + (n * g.OC + grp * g.OCg) * ohw + oh0 * g.OW;
    const BlockFinish<T> finish{b ? b + grp * g.OCg : nullptr, &epi, grp * g.OCg,
                                (n * g.OC + grp * g.OCg) * ohw + oh0 * g.OW, ohw};
    const MatrixView<T> out{yg, ohw, 1};
    const bool finishing = b || epi.active();
    if constexpr (std::is_same_v<T, float>) {
      // On each block of the output as the product finishes it, in cache.
      const SgemmEpilogue hook = sgemm_epilogue(finish);
      gemm<T>(g.OCg, cols, K, {w + grp * g.OCg * K, K, 1}, cm, out, false, finishing ? &hook : nullptr);
    } else {
      gemm<T>(g.OCg, cols, K, {w + grp * g.OCg * K, K, 1}, cm, out, false);
      if (finishing) finish(yg, ohw, 0, 0, g.OCg, cols);
    }
  });
}

// The input gradient of a stride-1 convolution is itself a convolution:
// grad_out convolved with the weights turned around (output and input
// channels swapped, each kernel rotated by 180 degrees), padded by
// K - 1 - pad, which gives back the input's size. Where the direct kernel
// takes that convolution (conv2d_direct_applies), it runs it: no product
// into im2col's columns and no col2im back, the two steps of the GEMM path.
// False where it does not apply (the GEMM path then runs).
bool backward_input_direct(const Tensor& grad_input, const Tensor& grad_out, const Tensor& weight,
                           const ConvGeometry& g) {
  const auto& p = g.p;
  if (g.groups != 1 || p.stride_h != 1 || p.stride_w != 1 || p.dilation_h != 1 || p.dilation_w != 1 ||
      p.pad_h > g.KH - 1 || p.pad_w > g.KW - 1)
    return false;
  // The turned convolution's geometry: grad_out [N, OC, OH, OW] in, grad_input out.
  ConvGeometry tg = g;
  tg.C = tg.Cg = g.OC;
  tg.H = g.OH;
  tg.W = g.OW;
  tg.OC = tg.OCg = g.C;
  tg.OH = g.H;
  tg.OW = g.W;
  tg.p = Conv2dParams{};
  tg.p.pad_h = g.KH - 1 - p.pad_h;
  tg.p.pad_w = g.KW - 1 - p.pad_w;
  // The product's input gradient writes im2col's columns and adds them back
  // with col2im, so packing the turned weights once per call pays for
  // itself at larger weights than in a forward, given enough samples x
  // pixels: ResNet's 256-channel 3x3 layers at 14x14, batch 16 (590K
  // weights), 0.76-0.83x the backward's time. (At 512 channels on 7x7, 2.4M
  // weights: 0.86-1.03x, not taken.)
  const int64_t weights = g.OC * g.C * g.KH * g.KW;
  const bool packing_paid =
      g.KH * g.KW > 1 && weights <= (int64_t{1} << 20) && g.N * g.H * g.W >= 1568;
  if (!conv2d_direct_applies(tg, packing_paid)) return false;
  // turned[c][oc][i][j] = weight[oc][c][KH-1-i][KW-1-j]
  std::vector<float> turned(static_cast<size_t>(g.C * g.OC * g.KH * g.KW));
  const float* w = static_cast<const float*>(weight.data_ptr());
  float* t = turned.data();
  const int64_t taps = g.KH * g.KW;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t oc = 0; oc < g.OC; ++oc)
      for (int64_t k = 0; k < taps; ++k) t[(c * g.OC + oc) * taps + k] = w[(oc * g.C + c) * taps + taps - 1 - k];
  const DirectConv2d conv(t, tg);
  const float* gy = static_cast<const float*>(grad_out.data_ptr());
  float* gx = static_cast<float*>(grad_input.data_ptr());
  for (int64_t n = 0; n < g.N; ++n) conv.forward(gy + n * g.OC * g.OH * g.OW, gx + n * g.C * g.H * g.W, nullptr);
  return true;
}

template <class T>
void backward_input_typed(const Tensor& grad_input, const Tensor& grad_out, const Tensor& weight,
                          const ConvGeometry& g) {
  if constexpr (std::is_same_v<T, float>) {
    if (backward_input_direct(grad_input, grad_out, weight, g)) return;
  }
  const T* gy = static_cast<const T*>(grad_out.data_ptr());
  const T* w = static_cast<const T*>(weight.data_ptr());
  T* gx = static_cast<T*>(grad_input.data_ptr());
  const int64_t K = g.Cg * g.KH * g.KW, ohw = g.OH * g.OW;
  if (const int64_t nb = samples_per_product(g, K, sizeof(T)); nb > 1) {
    // col[K, cols] = W^T x grad_out (gathered side by side), then each sample's columns back into its image.
    for_each_sample_group<T>(g, nb, K, [&](int64_t n0, int64_t n1, T* col, T* gathered) {
      const int64_t cols = (n1 - n0) * ohw;
      for (int64_t n = n0; n < n1; ++n) {
        for (int64_t oc = 0; oc < g.OC; ++oc) {
          const T* src = gy + (n * g.OC + oc) * ohw;
          std::copy(src, src + ohw, gathered + oc * cols + (n - n0) * ohw);
        }
      }
      gemm<T>(K, cols, g.OC, {w, 1, K}, {gathered, cols, 1}, {col, cols, 1}, false);
      for (int64_t n = n0; n < n1; ++n) {
        T* image = gx + n * g.C * g.H * g.W;
        std::fill(image, image + g.C * g.H * g.W, T(0));
        col2im_add(col + (n - n0) * ohw, image, g, 0, g.OH, cols);
      }
    });
    return;
  }
  const bool direct = g.pointwise();
  const int64_t rows = direct ? g.OH : rows_per_block(g, K, sizeof(T));
  for_each_sample<T>(g, direct ? 0 : K * rows * g.OW, [&](int64_t n, T* col) {
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      T* gxg = gx + (n * g.C + grp * g.Cg) * g.H * g.W;
      const T* wg = w + grp * g.OCg * K;
      const T* gyg = gy + (n * g.OC + grp * g.OCg) * ohw;
      // gx (or col) = W^T x grad_out. With a narrow grad_out (a 7x7 map: 49
      // columns) packing W^T for every sample would cost more than the
      // product, so it runs as col^T = grad_out^T x W: W is then read in
      // place and only the narrow grad_out is packed.
      auto transposed_product = [&](T* dst, const T* gy_rows, int64_t cols) {
        if (cols <= 72) return gemm<T>(cols, K, g.OCg, {gy_rows, 1, ohw}, {wg, K, 1}, {dst, 1, cols}, false);
        gemm<T>(K, cols, g.OCg, {wg, 1, K}, {gy_rows, ohw, 1}, {dst, cols, 1}, false);
      };
      if (direct) {
        transposed_product(gxg, gyg, ohw);
        continue;
      }
      std::fill(gxg, gxg + g.Cg * g.H * g.W, T(0));
      for (int64_t oh0 = 0; oh0 < g.OH; oh0 += rows) {
        int64_t oh1 = std::min(g.OH, oh0 + rows), cols = (oh1 - oh0) * g.OW;
        transposed_product(col, gyg + oh0 * g.OW, cols);
        col2im_add(col, gxg, g, oh0, oh1);
      }
    }
  });
}

// A weight gradient summed over threads: work(t, team, acc, scratch) runs
// on each thread t of a team of at most `threads`, acc being wsize zeros
// to add its share into (gw itself for thread 0, its own accumulator for
// the others) and scratch `scratch_elems` values of its own, uninitialised.
// Then the threads add the others' accumulators into gw, each over a range
// of it, in thread order. The memory comes from the caching allocator, so
// a training step's repeated calls reuse it instead of faulting in fresh
// pages (a ResNet-18 step's weight gradients are 45 MB); the zeroing and
// the sum over all of gw ran on one thread before, the others waiting.
template <class T, class Work>
void sum_over_threads(T* gw, int64_t wsize, int threads, int64_t scratch_elems, DType dtype, const Work& work) {
  const int64_t per_thread = scratch_elems + wsize;
  Tensor memory = empty({threads * per_thread}, TensorOptions(dtype, Device(DeviceType::CPU)));
  T* const base = static_cast<T*>(memory.data_ptr());
  auto accumulator = [&](int t) { return t == 0 ? gw : base + t * per_thread + scratch_elems; };
  auto run = [&](int t, int team) {
    T* acc = accumulator(t);
    std::fill(acc, acc + wsize, T(0));
    work(t, team, acc, base + t * per_thread);
  };
  if (threads <= 1) return run(0, 1);
#pragma omp parallel num_threads(threads)
  {
#ifdef _OPENMP
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
#else
    const int t = 0, team = 1;
#endif
    run(t, team);
#pragma omp barrier
    for (int64_t i = wsize * t / team, end = wsize * (t + 1) / team; i < end; ++i)
      for (int u = 1; u < team; ++u) gw[i] += accumulator(u)[i];
  }
}


// The weight gradient with `nb` samples' columns side by side per product
// (samples_per_product): grad_W += grad_out[OC, cols] x col^T[cols, K], the
// output gradient gathered into [OC, cols] first. Each thread sums its
// products into its own accumulator; the accumulators are then added.
template <class T>
void backward_weight_side_by_side(T* gw, const T* gy, const T* x, const ConvGeometry& g, int64_t nb, DType dtype) {
  const int64_t K = g.Cg * g.KH * g.KW, ohw = g.OH * g.OW, wsize = g.OC * K;
  const int64_t products = (g.N + nb - 1) / nb;
  const int threads = static_cast<int>(std::min<int64_t>(cpu_threads(), products));
  const int64_t col_elems = K * nb * ohw;
  sum_over_threads<T>(gw, wsize, threads, col_elems + g.OC * nb * ohw, dtype, [&](int t, int team, T* acc, T* scratch) {
    T* const col = scratch;
    T* const gathered = scratch + col_elems;
    for (int64_t i = products * t / team; i < products * (t + 1) / team; ++i) {
      const int64_t n0 = i * nb, n1 = std::min(g.N, n0 + nb), cols = (n1 - n0) * ohw;
      for (int64_t n = n0; n < n1; ++n) {
        im2col(x + n * g.C * g.H * g.W, col + (n - n0) * ohw, g, 0, g.OH, cols);
        for (int64_t oc = 0; oc < g.OC; ++oc) {
          const T* src = gy + (n * g.OC + oc) * ohw;
          std::copy(src, src + ohw, gathered + oc * cols + (n - n0) * ohw);
        }
      }
      gemm<T>(g.OC, K, cols, {gathered, cols, 1}, {col, 1, cols}, {acc, K, 1}, true);
    }
  });
}

template <class T>
void backward_weight_typed(const Tensor& grad_weight, const Tensor& grad_out, const Tensor& input,
                           const ConvGeometry& g) {
  const T* gy = static_cast<const T*>(grad_out.data_ptr());
  const T* x = static_cast<const T*>(input.data_ptr());
  T* gw = static_cast<T*>(grad_weight.data_ptr());
  const int64_t K = g.Cg * g.KH * g.KW, ohw = g.OH * g.OW;
  const int64_t wsize = g.OC * K;
  if (const int64_t nb = samples_per_product(g, K, sizeof(T)); nb > 1) {
    backward_weight_side_by_side<T>(gw, gy, x, g, nb, grad_weight.dtype());
    return;
  }
  const bool direct = g.pointwise();
  const int64_t rows = balanced_rows(g, rows_per_block(g, K, sizeof(T)));
  const int64_t blocks = (g.OH + rows - 1) / rows;
  const int64_t items = g.N * g.groups * blocks;
  // acc += grad_out x col^T, or, as acc^T += col x grad_out^T, when col is
  // much taller than grad_out (K = C KH KW >= 2 OC) and a block has at least
  // 256 columns: the GEMM then packs the smaller grad_out instead of col.
  // acc^T is summed in a scratch [group][K][OCg] whose rows are contiguous
  // (stored transposed into acc, every tile of C went element by element
  // through the product's edge path: such products ran 1.08-1.37x faster
  // into the scratch), then turned into acc once. Each element is the same
  // chain of multiply-adds either way, so the bits do not change.
  const bool transposed = K >= 2 * g.OCg && rows * g.OW >= 256;
  // Adds the contribution of items [begin, end) to acc (OC*K, zeros), col
  // as scratch; acc_t (K*OC, zeros) is acc^T's scratch when transposed.
  auto accumulate = [&](int64_t begin, int64_t end, T* acc, T* col, T* acc_t) {
    for (int64_t i = begin; i < end; ++i) {
      int64_t blk = i % blocks, grp = (i / blocks) % g.groups, n = i / (blocks * g.groups);
      int64_t oh0 = blk * rows, oh1 = std::min(g.OH, oh0 + rows), cols = (oh1 - oh0) * g.OW;
      const T* xg = x + (n * g.C + grp * g.Cg) * g.H * g.W;
      if (!direct) im2col(xg, col, g, oh0, oh1);
      const T* cm = direct ? xg + oh0 * g.OW : col;
      const int64_t cm_rs = direct ? g.H * g.W : cols;
      const T* gym = gy + (n * g.OC + grp * g.OCg) * ohw + oh0 * g.OW;
      if (transposed) {
        gemm<T>(K, g.OCg, cols, {cm, cm_rs, 1}, {gym, 1, ohw}, {acc_t + grp * K * g.OCg, g.OCg, 1}, true);
      } else {
        gemm<T>(g.OCg, K, cols, {gym, ohw, 1}, {cm, 1, cm_rs}, {acc + grp * g.OCg * K, K, 1}, true);
      }
    }
    if (!transposed) return;
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const T* from = acc_t + grp * K * g.OCg;
      T* to = acc + grp * g.OCg * K;
      for (int64_t oc = 0; oc < g.OCg; ++oc)
        for (int64_t k = 0; k < K; ++k) to[oc * K + k] += from[k * g.OCg + oc];
    }
  };
  const int64_t col_elems = direct ? 0 : K * rows * g.OW;
  const int threads = static_cast<int>(std::min<int64_t>(cpu_threads(), items));
  // Scratch per thread: col, then acc^T's (when transposed).
  sum_over_threads<T>(gw, wsize, threads, col_elems + (transposed ? wsize : 0), grad_weight.dtype(),
                      [&](int t, int team, T* acc, T* scratch) {
                        T* acc_t = transposed ? scratch + col_elems : nullptr;
                        if (acc_t) std::fill(acc_t, acc_t + wsize, T(0));
                        accumulate(items * t / team, items * (t + 1) / team, acc, scratch, acc_t);
                      });
}

}  // namespace

// A channels-last call with no NHWC kernel (a grouped convolution that is
// not depthwise) runs in NCHW on copies; the result is copied back.
namespace {

// conv2d_forward with `epi` applied to the output as it is computed.
void conv2d_forward_cpu(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                        const Conv2dParams& p, const ConvEpilogueSpec& epi) {
  ConvGeometry g(input, weight, out, p);
  if (p.channels_last) {
    if (g.groups == 1) return conv2d_nhwc_forward_cpu(out, input, weight, bias, g, epi);
    if (g.has_nhwc_kernel()) return depthwise_conv2d_nhwc_forward_cpu(out, input, weight, bias, g, epi);
    // Other grouped convolutions run in NCHW, the epilogue then in NHWC over the copied result.
    Tensor y = empty(out.shape(), TensorOptions(out.dtype(), out.device()));
    conv2d_forward_cpu(y, input.contiguous(), weight.contiguous(), bias, p.as_nchw(), {});
    cpu_backend().copy(out, y);
    dispatch_float_double(out.dtype(), "conv2d", [&]<class T>() {
      const int64_t pixels = out.numel() / std::max<int64_t>(g.OC, 1);
      ConvEpilogue<T>(epi, g.OC).pixels(static_cast<T*>(out.data_ptr()), 0, pixels);
    });
    return;
  }
  if (g.depthwise()) return depthwise_conv2d_forward_cpu(out, input, weight, bias, g, epi);
  dispatch_float_double(input.dtype(), "conv2d",
                        [&]<class T>() { forward_typed<T>(out, input, weight, bias, g, epi); });
}

}  // namespace

void CpuBackend::conv2d_forward(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                                const Conv2dParams& p) {
  if (any_16bit({out, input, weight, bias})) {
    WidenedOutput y(out);
    conv2d_forward(y.work(), widened(input), widened(weight), widened(bias), p);
    return y.commit();
  }
  conv2d_forward_cpu(out, input, weight, bias, p, {});
}

void CpuBackend::conv2d_forward_batch_norm(const Tensor& out, const Tensor& input, const Tensor& weight,
                                           const Tensor& bias, const Conv2dParams& p, const BatchNormEval& bn,
                                           FusedActivation act, const Tensor& residual) {
  // 16-bit tensors, and batch-norm tensors of another dtype than the
  // convolution's, take the ops one after the other (each converts on its own).
  bool separate = any_16bit({out, input, weight, bias, bn.weight, bn.bias, bn.running_mean, bn.running_var, residual});
  for (const Tensor* t : {&bn.weight, &bn.bias, &bn.running_mean, &bn.running_var}) {
    separate = separate || (t->defined() && t->dtype() != out.dtype());
  }
  if (separate) return Backend::conv2d_forward_batch_norm(out, input, weight, bias, p, bn, act, residual);
  conv2d_forward_cpu(out, input, weight, bias, p, ConvEpilogueSpec{&bn, act, residual});
}

// DenseNet's norm1, relu1 and conv1 at inference: a float32 1x1
// convolution whose input's batch norm and ReLU are applied as the product
// packs the input (sgemm's NormalizedRows), so the normalised input is
// never written (it was 8% of DenseNet-121's batch-1 inference, a pass
// over every earlier layer's features per layer). One product per sample
// (sgemm threads it), its epilogue on each block of the output. Only where
// forward_typed would run that same product (each output is then the same
// chain of multiply-adds, so the bits of the ops one after the other): not
// where the direct kernel takes a small map, several samples share a
// product, or a one-column block becomes dot products. Other convolutions
// and dtypes take the ops one after the other.
void CpuBackend::conv2d_forward_normalized_input(const Tensor& out, const Tensor& input, const BatchNormEval& input_bn,
                                                 FusedActivation input_act, const Tensor& weight,
                                                 const Conv2dParams& p, const BatchNormEval& bn, FusedActivation act) {
  ConvGeometry g(input, weight, out, p);
  bool fused = sgemm_available() && !p.channels_last && g.pointwise() && g.groups == 1 && g.OW >= 2 &&
               (input_act == FusedActivation::None || input_act == FusedActivation::Relu) &&
               !conv2d_direct_applies(g, keeps_packed_weights(weight)) && samples_per_product(g, g.C, sizeof(float)) == 1;
  for (const Tensor* t : {&out, &input, &weight, &input_bn.weight, &input_bn.bias, &input_bn.running_mean,
                          &input_bn.running_var, &bn.weight, &bn.bias, &bn.running_mean, &bn.running_var}) {
    fused = fused && (!t->defined() || t->dtype() == DType::Float32);
  }
  if (!fused) {
    return Backend::conv2d_forward_normalized_input(out, input, input_bn, input_act, weight, p, bn, act);
  }
  std::vector<float> scale, shift;
  eval_scale_and_shift<float>(g.C, static_cast<const float*>(input_bn.running_mean.data_ptr()),
                              static_cast<const float*>(input_bn.running_var.data_ptr()), input_bn.eps,
                              ptr_or_null<float>(input_bn.weight), ptr_or_null<float>(input_bn.bias), scale, shift);
  const ConvEpilogue<float> epi(ConvEpilogueSpec{&bn, act, Tensor()}, g.OC);
  const float* x = static_cast<const float*>(input.data_ptr());
  const float* w = static_cast<const float*>(weight.data_ptr());
  float* y = static_cast<float*>(out.data_ptr());
  const int64_t hw = g.H * g.W;
  for (int64_t n = 0; n < g.N; ++n) {
    const BlockFinish<float> finish{nullptr, &epi, 0, n * g.OC * hw, hw};
    const SgemmEpilogue hook = sgemm_epilogue(finish);
    sgemm(g.OC, hw, g.C, {w, g.C, 1},
          NormalizedRows{x + n * g.C * hw, hw, scale.data(), shift.data(), input_act == FusedActivation::Relu},
          {y + n * g.OC * hw, hw, 1}, false, epi.active() ? &hook : nullptr);
  }
}

void CpuBackend::conv2d_backward_input(const Tensor& grad_input, const Tensor& grad_out, const Tensor& weight,
                                       const Conv2dParams& p) {
  if (any_16bit({grad_input, grad_out, weight})) {
    WidenedOutput gx(grad_input);
    conv2d_backward_input(gx.work(), widened(grad_out), widened(weight), p);
    return gx.commit();
  }
  ConvGeometry g(grad_input, weight, grad_out, p);
  if (p.channels_last) {
    if (g.groups == 1) return conv2d_nhwc_backward_input_cpu(grad_input, grad_out, weight, g);
    if (g.has_nhwc_kernel()) return depthwise_conv2d_nhwc_backward_input_cpu(grad_input, grad_out, weight, g);
    Tensor gx = empty(grad_input.shape(), TensorOptions(grad_input.dtype(), grad_input.device()));
    conv2d_backward_input(gx, grad_out.contiguous(), weight.contiguous(), p.as_nchw());
    return copy(grad_input, gx);
  }
  if (g.depthwise()) return depthwise_conv2d_backward_input_cpu(grad_input, grad_out, weight, g);
  dispatch_float_double(grad_out.dtype(), "conv2d_backward_input",
                        [&]<class T>() { backward_input_typed<T>(grad_input, grad_out, weight, g); });
}

void CpuBackend::conv2d_backward_weight(const Tensor& grad_weight, const Tensor& grad_out, const Tensor& input,
                                        const Conv2dParams& p) {
  if (any_16bit({grad_weight, grad_out, input})) {
    WidenedOutput gw(grad_weight);
    conv2d_backward_weight(gw.work(), widened(grad_out), widened(input), p);
    return gw.commit();
  }
  ConvGeometry g(input, grad_weight, grad_out, p);
  if (p.channels_last) {
    if (g.groups == 1) return conv2d_nhwc_backward_weight_cpu(grad_weight, grad_out, input, g);
    if (g.has_nhwc_kernel()) return depthwise_conv2d_nhwc_backward_weight_cpu(grad_weight, grad_out, input, g);
    Tensor gw = empty(grad_weight.shape(), TensorOptions(grad_weight.dtype(), grad_weight.device()));
    conv2d_backward_weight(gw, grad_out.contiguous(), input.contiguous(), p.as_nchw());
    return copy(grad_weight, gw);
  }
  if (g.depthwise()) return depthwise_conv2d_backward_weight_cpu(grad_weight, grad_out, input, g);
  dispatch_float_double(grad_out.dtype(), "conv2d_backward_weight",
                        [&]<class T>() { backward_weight_typed<T>(grad_weight, grad_out, input, g); });
}

void CpuBackend::conv2d_backward_bias(const Tensor& grad_bias, const Tensor& grad_out) {
  if (any_16bit({grad_bias, grad_out})) {
    WidenedOutput gb(grad_bias);
    conv2d_backward_bias(gb.work(), widened(grad_out));
    return gb.commit();
  }
  const int64_t N = grad_out.size(0), OC = grad_out.size(1);
  const int64_t hw = grad_out.numel() / std::max<int64_t>(N * OC, 1);
  const bool channels_last = is_channels_last(grad_out);
  dispatch_float_double(grad_out.dtype(), "conv2d_backward_bias", [&]<class T>() {
    const T* gy = static_cast<const T*>(grad_out.data_ptr());
    T* gb = static_cast<T*>(grad_bias.data_ptr());
    if (channels_last) {  // column sums of [N*H*W, OC], a block of columns per thread
      parallel_for(OC, 16, [&](int64_t begin, int64_t end) {
        std::vector<double> acc(static_cast<size_t>(end - begin), 0.0);
        for (int64_t m = 0; m < N * hw; ++m) {
          const T* row = gy + m * OC;
          for (int64_t oc = begin; oc < end; ++oc) acc[static_cast<size_t>(oc - begin)] += row[oc];
        }
        for (int64_t oc = begin; oc < end; ++oc) gb[oc] = static_cast<T>(acc[static_cast<size_t>(oc - begin)]);
      });
      return;
    }
    parallel_for(OC, 16, [&](int64_t begin, int64_t end) {
      for (int64_t oc = begin; oc < end; ++oc) {
        double acc = 0;
        for (int64_t n = 0; n < N; ++n) {
          const T* plane = gy + (n * OC + oc) * hw;
          for (int64_t i = 0; i < hw; ++i) acc += plane[i];
        }
        gb[oc] = static_cast<T>(acc);
      }
    });
  });
}

}  // namespace ember
