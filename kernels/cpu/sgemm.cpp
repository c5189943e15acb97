// float32 matrix product C (+)= A x B, the way BLIS and OpenBLAS do it:
//
//   for each 512-column block of C:
//     for each 256-deep slice of K:          pack B's slice into 16-column panels
//                                            (at most 96 rows of C: read in place)
//       for each 72-row block of A:          pack it into 6-row panels (a transposed A
//                                            only; a row-major A is read in place)
//         for each 16-column panel of B:
//           for each 6 rows of A:            micro-kernel: a 6x16 tile of C
//                                            (a last panel of at most 8 columns:
//                                            12 rows at a time, a 12x8 tile;
//                                            one or two rows left below the
//                                            6-row tiles: a 2x48 tile)
//
// The micro-kernel keeps its 6x16 tile in twelve 8-float AVX registers and,
// per step along K, loads 16 floats of B, broadcasts 6 floats of A and does
// 12 fused multiply-adds: 192 flops for 22 floats read from L1. B's panels
// are laid out in the order the kernel reads them, zero-padded to 16
// columns, so the inner loop has no edge cases; edge tiles of C go through
// a small buffer. A 16-column panel of B (16 KiB) stays in L1, the 72 x 256
// block of A (72 KiB) in L2, the packed 256 x 512 slice of B (512 KiB) in
// L2/L3. Built with AVX-512, four neighbouring panels share a 6x64 tile of
// 24 16-float registers (four loads of B, six broadcasts, 24 fused
// multiply-adds per step: 1.03-1.19x on ResNet-50's and MobileNetV2's 1x1
// convolutions read in place, against 6x32; 1.01-1.02x more on packed
// panels, once they were aligned to cache lines), two left over a 6x32
// tile, and a lone panel takes twelve rows at a time; where A is read in
// place and a block's rows are a multiple of 8, three panels share an 8x48
// tile first (eight_row_tiles). Every element is
// still one chain of fused multiply-adds over k, so the bits are the AVX2
// kernel's.
//
// Bytes moved: A is read once per 512 columns of C, B once per 72 rows of
// C, C once per 256 of K; at a convolution's sizes the product is
// compute-bound and runs at 70-88% of one core's FMA peak with AVX2
// (Eigen's kernel, which this replaces for float32: 55-65%), and at 75-93%
// of it with AVX-512 where a map has at least 48 columns (a 7x7 map's 49th
// costs a whole panel's instructions: about 60%).
//
// Threads: outside a parallel region a large product is cut into column
// ranges or, when A is the larger operand, row ranges, one per thread, each
// packing its own panels.
#include "kernels/cpu/sgemm.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>

#include "kernels/cpu/aligned_scratch.h"
#include "kernels/cpu/lanes16.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/transpose_8x8.h"
#include "kernels/fused_activation.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define EMBER_HAVE_SGEMM_KERNEL 1
#endif

namespace ember {

#if defined(EMBER_HAVE_SGEMM_KERNEL)
namespace {

constexpr int64_t MR = 6, NR = 16;                 // micro-tile of C
constexpr int64_t KC = 256, MC = 72, NC = 512;     // cache blocks (MC is a multiple of MR, NC of NR)
constexpr int64_t kMaxRowsReadingBInPlace = 96;    // see sgemm_serial

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// a[mc x kc] into ceil(mc / 6) panels; panel p holds, for k = 0..kc-1, the
// six values a[6p .. 6p+5, k] (zeros past row mc).
void pack_a(FloatMatrix a, int64_t mc, int64_t kc, float* out) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR) {
    const int64_t mr = std::min(MR, mc - i0);
    const float* src = a.data + i0 * a.row_stride;
    for (int64_t k = 0; k < kc; ++k, out += MR) {
      const float* col = src + k * a.col_stride;
      int64_t i = 0;
      for (; i < mr; ++i) out[i] = col[i * a.row_stride];
      for (; i < MR; ++i) out[i] = 0.0f;
    }
  }
}

// B as the product reads it: a strided matrix, or rows at given offsets
// (OffsetRows: row k at data + row_offsets[k], columns contiguous). The
// product is compiled for each, so a strided B's packing loop is the plain
// one (a row-address choice per k cost small products, 192 x 784 x 32, up
// to 8%).
struct StridedB {
  const float* data;
  int64_t row_stride, col_stride;

  const float* row(int64_t k) const { return data + k * row_stride; }
  StridedB columns_from(int64_t j) const { return {data + j * col_stride, row_stride, col_stride}; }
  StridedB rows_from(int64_t k) const { return {data + k * row_stride, row_stride, col_stride}; }
};

struct OffsetB {
  const float* data;
  const int64_t* row_offsets;
  static constexpr int64_t col_stride = 1;

  const float* row(int64_t k) const { return data + row_offsets[k]; }
  OffsetB columns_from(int64_t j) const { return {data + j, row_offsets}; }
  OffsetB rows_from(int64_t k) const { return {data, row_offsets + k}; }
};

// NormalizedRows: act(x * scale[k] + shift[k]) applied by pack_b.
struct NormalizedB {
  NormalizedRows r;
  static constexpr int64_t col_stride = 1;

  const float* row(int64_t k) const { return r.data + k * r.row_stride; }
  NormalizedB columns_from(int64_t j) const { return {{r.data + j, r.row_stride, r.scale, r.shift, r.relu}}; }
  NormalizedB rows_from(int64_t k) const {
    return {{row(k), r.row_stride, r.scale + k, r.shift + k, r.relu}};
  }
};

// out[0, n) = act(x[0, n) * scale + shift), zeros in out[n, 16): one row of
// a normalised panel, with clamp_row's arithmetic (batch_norm_rows.h).
inline void normalise_panel_row(const float* x, int64_t n, float scale, float shift, bool relu, float* out) {
  if (n == NR) {
#if defined(__AVX512F__)
    __m512 v = _mm512_fmadd_ps(_mm512_loadu_ps(x), _mm512_set1_ps(scale), _mm512_set1_ps(shift));
    // max's zero-masked form with every lane kept (GCC 12's plain form warns).
    if (relu) v = _mm512_maskz_max_ps(0xFFFF, _mm512_setzero_ps(), v);
    _mm512_storeu_ps(out, v);
#else
    for (int64_t half = 0; half < NR; half += 8) {
      __m256 v = _mm256_fmadd_ps(_mm256_loadu_ps(x + half), _mm256_set1_ps(scale), _mm256_set1_ps(shift));
      if (relu) v = _mm256_max_ps(_mm256_setzero_ps(), v);
      _mm256_storeu_ps(out + half, v);
    }
#endif
    return;
  }
  for (int64_t j = 0; j < NR; ++j) {
    const float v = j < n ? std::fma(x[j], scale, shift) : 0.0f;
    out[j] = relu ? math::relu(v) : v;
  }
}

// b[kc x nc] into ceil(nc / 16) panels; panel p holds, for k = 0..kc-1, the
// sixteen values b[k, 16p .. 16p+15] (zeros past column nc).
template <class B>
void pack_b(B b, int64_t kc, int64_t nc, float* out) {
  for (int64_t j0 = 0; j0 < nc; j0 += NR, out += kc * NR) {
    const int64_t nr = std::min(NR, nc - j0);
    const B src = b.columns_from(j0);
    if constexpr (std::is_same_v<B, NormalizedB>) {
      for (int64_t k = 0; k < kc; ++k) normalise_panel_row(src.row(k), nr, b.r.scale[k], b.r.shift[k], b.r.relu, out + k * NR);
      continue;
    }
    if (nr == NR && b.col_stride == 1) {
      for (int64_t k = 0; k < kc; ++k) {
        const float* row = src.row(k);
        Lanes16::load(row).store(out + k * NR);
      }
      continue;
    }
    if constexpr (std::is_same_v<B, StridedB>) {
      if (b.row_stride == 1) {
        // B is a transpose: its columns are contiguous along K. A whole
        // panel goes 8 columns x 8 steps of K at a time through an 8x8
        // transpose in registers (a weight gradient's grad_out^T or col^T;
        // element by element it was 4% of a ResNet-18 training step); the
        // rest walks each column along K.
        int64_t k0 = 0;
        if (nr == NR) {
          for (; k0 + 8 <= kc; k0 += 8) {
            for (int64_t half = 0; half < NR; half += 8) {
              __m256 r[8];
              for (int64_t j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(src.data + (half + j) * b.col_stride + k0);
              transpose_8x8(r);
              for (int64_t k = 0; k < 8; ++k) _mm256_storeu_ps(out + (k0 + k) * NR + half, r[k]);
            }
          }
        }
        for (int64_t j = 0; j < NR; ++j) {
          const float* col = src.data + j * b.col_stride;
          for (int64_t k = k0; k < kc; ++k) out[k * NR + j] = j < nr ? col[k] : 0.0f;
        }
        continue;
      }
    }
    for (int64_t k = 0; k < kc; ++k) {
      const float* row = src.row(k);
      for (int64_t j = 0; j < NR; ++j) out[k * NR + j] = j < nr ? row[j * b.col_stride] : 0.0f;
    }
  }
}

// c[mr x nr] (+)= tile[mr x nr] (rows `ld` floats apart): the micro-kernels'
// edge tiles, whose registers went to a buffer first.
void store_tile(const float* tile, int64_t ld, MutableFloatMatrix c, int64_t mr, int64_t nr, bool accumulate) {
  for (int64_t i = 0; i < mr; ++i)
    for (int64_t j = 0; j < nr; ++j) {
      float& out = c.data[i * c.row_stride + j * c.col_stride];
      out = accumulate ? out + tile[i * ld + j] : tile[i * ld + j];
    }
}

// The micro-kernels below are always inlined into the product: called
// out of line, with their row pointers and steps unknown, the 6x16 kernel
// ran 2.5x slower (as GCC chose once sgemm_serial became a template).

// c[mr x nr] (+)= (6 rows of A) x (16-column panel of B) over kc steps.
// Row i of A is read at a + i * a_row, advancing by a_step per k: a packed
// panel (a_row = 1, a_step = 6) or A itself when its rows are contiguous
// (a_row = its row stride, a_step = 1). B's 16 values for step k are at
// b + b_step k (a packed panel: 16; read in place: the row stride).
[[gnu::always_inline]] inline void micro_kernel(int64_t kc, const float* a, int64_t a_row, int64_t a_step,
                                                const float* b, int64_t b_step, MutableFloatMatrix c, int64_t mr,
                                                int64_t nr, bool accumulate) {
  // Rows past mr repeat row mr-1: computed, never stored.
  const float* rows[MR];
  for (int64_t i = 0; i < MR; ++i) rows[i] = a + std::min(i, mr - 1) * a_row;
  Lanes16 acc[MR];  // twelve AVX2 registers, or six AVX-512 ones
  for (auto& r : acc) r = Lanes16::zero();
  for (int64_t k = 0, ak = 0; k < kc; ++k, ak += a_step, b += b_step) {
    const Lanes16 bv = Lanes16::load(b);
    for (int64_t i = 0; i < MR; ++i) acc[i] = fmadd(rows[i][ak], bv, acc[i]);  // unrolled: in registers
  }
  if (mr == MR && nr == NR && c.col_stride == 1) {
    for (int64_t i = 0; i < MR; ++i) {
      float* ci = c.data + i * c.row_stride;
      (accumulate ? acc[i] + Lanes16::load(ci) : acc[i]).store(ci);
    }
    return;
  }
  alignas(64) float tile[MR][NR];
  for (int64_t i = 0; i < MR; ++i) acc[i].store(tile[i]);
  store_tile(tile[0], NR, c, mr, nr, accumulate);
}

#if defined(__AVX512F__)
// With AVX-512: a tile of Rows rows over Panels neighbouring 16-column
// panels, one 16-float register per row and panel: 6x32 and 6x64 (twelve
// and 24 accumulators), and 12x16 for a lone panel (twelve independent
// chains hide the fused multiply-add's latency, which six, in a 6x16 tile
// of 16-float registers, would not). Per step along K: a load of B per
// panel, a broadcast of A per row, Rows x Panels fused multiply-adds of 16
// lanes: at 6x64, 10 loads per 24 of them, where 6x32 needs 8 per 12 (the
// loads, not the multiply-adds, bounded the 6x32 tile). The panels' layout
// is micro_kernel's, and each element is the same single chain of fused
// multiply-adds over k, so the bits do not depend on which kernel computed
// it. rows: the A rows, each
// advancing by a_step per k (rows past mr repeat row mr-1: computed, never
// stored). Panel p's values for k = 0 are at b + p * panel_step, each
// advancing by b_step per k.
constexpr bool kPanelGroups = true;

template <int Rows, int Panels>
[[gnu::always_inline]] inline void micro_kernel_block(int64_t kc, const float* const* rows, int64_t a_step,
                                                      const float* b, int64_t panel_step, int64_t b_step,
                                                      MutableFloatMatrix c, int64_t mr, bool accumulate) {
  const float* panels[Panels];
  for (int p = 0; p < Panels; ++p) panels[p] = b + p * panel_step;
  __m512 acc[Rows][Panels];
  for (auto& r : acc)
    for (auto& v : r) v = _mm512_setzero_ps();
  for (int64_t k = 0, ak = 0, bk = 0; k < kc; ++k, ak += a_step, bk += b_step) {
    __m512 bv[Panels];
    for (int p = 0; p < Panels; ++p) bv[p] = _mm512_loadu_ps(panels[p] + bk);
    for (int i = 0; i < Rows; ++i) {  // unrolled by the compiler: acc stays in registers
      const __m512 x = _mm512_set1_ps(rows[i][ak]);
      for (int p = 0; p < Panels; ++p) acc[i][p] = _mm512_fmadd_ps(x, bv[p], acc[i][p]);
    }
  }
  if (mr == Rows && c.col_stride == 1) {
    for (int i = 0; i < Rows; ++i) {
      float* ci = c.data + i * c.row_stride;
      for (int p = 0; p < Panels; ++p) {
        const __m512 v = accumulate ? _mm512_add_ps(acc[i][p], _mm512_loadu_ps(ci + p * NR)) : acc[i][p];
        _mm512_storeu_ps(ci + p * NR, v);
      }
    }
    return;
  }
  alignas(64) float tile[Rows][Panels * NR];
  for (int i = 0; i < Rows; ++i)
    for (int p = 0; p < Panels; ++p) _mm512_store_ps(tile[i] + p * NR, acc[i][p]);
  store_tile(tile[0], Panels * NR, c, mr, Panels * NR, accumulate);
}
#else
constexpr bool kPanelGroups = false;
#endif

// The same product for a last panel of at most 8 columns (a 7x7 map's 49 =
// 3 x 16 + 1, a 98-column block's 2): twelve rows of A against 8 columns,
// in twelve 8-float accumulators, so the padding computed for the missing
// columns is at most 7 of 8 instead of 15 of 16 (at 49 columns, 56 computed
// instead of 64). Row i of A is read at rows[i], advancing by a_step per k.
// Each element is still one chain of fused multiply-adds over k from zero,
// then added to C, exactly as in micro_kernel: a column gives the same bits
// whichever panel it falls in (so, for a convolution, whatever the batch).
[[gnu::always_inline]] inline void micro_kernel_narrow(int64_t kc, const float* const* rows, int64_t a_step,
                                                       const float* b, int64_t b_step, MutableFloatMatrix c,
                                                       int64_t mr, int64_t nr, bool accumulate) {
  __m256 acc[2 * MR];
  for (auto& r : acc) r = _mm256_setzero_ps();
  for (int64_t k = 0, ak = 0; k < kc; ++k, ak += a_step, b += b_step) {  // the first 8 of the panel's 16
    const __m256 b0 = _mm256_loadu_ps(b);
    for (int64_t i = 0; i < 2 * MR; ++i) acc[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(rows[i] + ak), b0, acc[i]);
  }
  alignas(32) float tile[2 * MR][NR / 2];
  for (int64_t i = 0; i < 2 * MR; ++i) _mm256_store_ps(tile[i], acc[i]);
  store_tile(tile[0], NR / 2, c, mr, nr, accumulate);
}

// One or two rows of A against up to three 16-column panels of B (48
// columns of C): the rows left below a block's whole 6-row tiles when there
// are only one or two (a DenseNet layer's 32 new channels are 5 x 6 + 2),
// which a 6x16 tile would compute as six, three times the work. Twelve
// accumulators again (2 rows x 6 vectors). Row i of A is read at rows[i],
// advancing by a_step per k; panel p's 16 values for step k at
// panels[p] + 16 k. The first `cols` columns of the tile are stored. The
// same fused multiply-add chain per element as micro_kernel.
[[gnu::always_inline]] inline void micro_kernel_short(int64_t kc, const float* const* rows, int64_t a_step,
                                                      const float* const* panels, int64_t b_step,
                                                      MutableFloatMatrix c, int64_t mr, int64_t cols,
                                                      bool accumulate) {
  constexpr int64_t P = 3, W = P * NR;
  Lanes16 acc[2][P];  // twelve AVX2 registers, or six AVX-512 ones
  for (auto& r : acc)
    for (auto& v : r) v = Lanes16::zero();
  const float *a0 = rows[0], *a1 = rows[1];
  for (int64_t k = 0, ak = 0; k < kc; ++k, ak += a_step) {
    for (int64_t p = 0; p < P; ++p) {  // unrolled: acc stays in registers
      const Lanes16 bv = Lanes16::load(panels[p] + k * b_step);
      acc[0][p] = fmadd(a0[ak], bv, acc[0][p]);
      acc[1][p] = fmadd(a1[ak], bv, acc[1][p]);
    }
  }
  alignas(64) float tile[2][W];
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t p = 0; p < P; ++p) acc[i][p].store(tile[i] + p * NR);
  store_tile(tile[0], W, c, mr, cols, accumulate);
}

// Whether a block of mc rows of A, read in place, goes through 8x48 tiles
// (AVX-512; eight rows of A over three panels, 24 accumulators, 11 loads
// per 24 fused multiply-adds) rather than 6-row ones: where its rows are a
// multiple of 8 and not of 6, the 6-row tiles computed rows for nothing or
// left one or two to micro_kernel_short. Single 1x1 convolutions, one
// thread, against 6-row tiles, alternating: 32 output channels (MobileNetV2's
// 144 and 192 -> 32 at 28x28) 1.28-1.34x, 64 (ResNet-50's 256 -> 64 at
// 56x56) 1.07x, 128 (DenseNet's and ResNet-50's) 1.02-1.03x, 256 and 512
// 1.01x; and where both fit, 24, 96, 384 and 576 output channels
// 1.02-1.07x, but K = 24 (MobileNetV2's 24 -> 144) 0.96x, hence K >= 32.
// The tile does not change any element's chain of multiply-adds.
bool eight_row_tiles(bool a_in_place, int64_t mc, int64_t kc) {
  return kPanelGroups && a_in_place && mc % 8 == 0 && kc >= 32;
}

// One thread's product, through the cache blocks above. (row0, col0): where
// this part of C lies in the caller's C, for the epilogue.
template <class B>
void sgemm_serial(int64_t M, int64_t N, int64_t K, FloatMatrix a, B b, MutableFloatMatrix c,
                  bool accumulate, const SgemmEpilogue* epilogue = nullptr, int64_t row0 = 0, int64_t col0 = 0) {
  // A with contiguous rows is read in place (six row streams); otherwise,
  // a transpose, it is packed first. B is packed, except where C has at
  // most 96 rows and B's rows are contiguous: then each 16-column panel
  // is read where it lies (its 16 floats per k a row of B apart; the
  // first tile brings them into L1 for the other 15 at most), and only a
  // last panel of under 16 columns is packed. There, packing cost more
  // than it saved: a panel packed was read by at most 16 six-row tiles.
  // Single convolutions, in place against packed, one and two threads
  // (an Intel Xeon with AVX-512): MobileNetV2's projections to 16-40
  // channels 1.3-1.55x, ResNet-50's 256 -> 64 at 56x56 1.19x, 64 and 96
  // rows over 14x14 to 112x112 maps 1.02-1.15x. Above 96 rows it varied
  // both ways (512 -> 128 at 28x28: 0.82-0.98x; 1024 -> 256 at 14x14:
  // 1.02-1.08x). With the AVX2 kernels on the same machine, at most 48
  // rows: 1.05-1.26x.
  const bool a_direct = a.col_stride == 1;
  thread_local AlignedScratch a_scratch, b_scratch;
  float* const packed_a = a_direct ? nullptr : a_scratch.at_least(MC * KC);
  float* const packed_b = b_scratch.at_least(KC * round_up(std::min(N, NC), NR));
  // B read in place: see the note above.
  bool b_in_place = false;
  int64_t b_row_step = NR;
  if constexpr (std::is_same_v<B, StridedB>) {
    b_in_place = b.col_stride == 1 && M <= kMaxRowsReadingBInPlace;
    b_row_step = b.row_stride;
  }
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min(NC, N - jc);
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min(KC, K - pc);
      const bool add = accumulate || pc > 0;  // later K slices add to the first's result
      // In place, only a last panel of under 16 columns is packed (its
      // rows would be read past their end).
      const int64_t whole_end = nc / NR * NR;
      if (!b_in_place)
        pack_b(b.columns_from(jc).rows_from(pc), kc, nc, packed_b);
      else if (whole_end < nc)
        pack_b(b.columns_from(jc + whole_end).rows_from(pc), kc, nc - whole_end, packed_b);
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = std::min(MC, M - ic);
        const float* a_block = a.data + ic * a.row_stride + pc * a.col_stride;
        if (!a_direct) pack_a({a_block, a.row_stride, a.col_stride}, mc, kc, packed_a);
        // Row r of this block of A, for the narrow and short tiles (which
        // take their rows one by one): in place, or in its packed panel.
        auto a_row = [&](int64_t r) {
          return a_direct ? a_block + r * a.row_stride : packed_a + r / MR * MR * kc + r % MR;
        };
        // One or two rows below the whole 6-row tiles go through
        // micro_kernel_short, three panels at a time, except in a narrow
        // last panel (at most 8 columns, from wide_end on).
        const int64_t row_tail = mc % MR, last_cols = nc % NR;
        const int64_t full_rows = row_tail == 1 || row_tail == 2 ? mc - row_tail : mc;
        const int64_t wide_end = last_cols > 0 && last_cols <= NR / 2 ? nc - last_cols : nc;
        // Columns [0, eight_row_end) done in 8x48 tiles; the loop below takes the rest.
        const int64_t eight_row_end = eight_row_tiles(a_direct, mc, kc) ? nc / (3 * NR) * (3 * NR) : 0;
#if defined(__AVX512F__)
        for (int64_t jr = 0; jr < eight_row_end; jr += 3 * NR) {
          const float* b_panel = b_in_place ? b.columns_from(jc + jr).rows_from(pc).row(0) : packed_b + jr * kc;
          const int64_t b_step = b_in_place ? b_row_step : NR, panel_step = b_in_place ? NR : NR * kc;
          for (int64_t ir = 0; ir < mc; ir += 8) {
            const float* rows[8];
            for (int64_t i = 0; i < 8; ++i) rows[i] = a_row(ir + i);
            micro_kernel_block<8, 3>(kc, rows, 1, b_panel, panel_step, b_step,
                                     {c.data + (ic + ir) * c.row_stride + (jc + jr) * c.col_stride, c.row_stride,
                                      c.col_stride},
                                     8, add);
          }
        }
#endif
        for (int64_t jr = eight_row_end; jr < nc; jr += NR) {
          const int64_t nr = std::min(NR, nc - jr);
          // B's 16 values for step k at b_panel + k * b_step.
          const bool packed_panel = !b_in_place || jr == whole_end;
          const float* b_panel = !b_in_place ? packed_b + jr * kc
                                 : packed_panel ? packed_b
                                                : b.columns_from(jc + jr).rows_from(pc).row(0);
          const int64_t b_step = packed_panel ? NR : b_row_step;
          auto tile_at = [&](int64_t ir) {
            return MutableFloatMatrix{c.data + (ic + ir) * c.row_stride + (jc + jr) * c.col_stride, c.row_stride,
                                      c.col_stride};
          };
          if (nr <= NR / 2) {
            for (int64_t ir = 0; ir < mc; ir += 2 * MR) {
              // Rows past mr repeat row mr-1: computed, never stored.
              const int64_t mr = std::min(2 * MR, mc - ir);
              const float* rows[2 * MR];
              for (int64_t i = 0; i < 2 * MR; ++i) rows[i] = a_row(ir + std::min(i, mr - 1));
              micro_kernel_narrow(kc, rows, a_direct ? 1 : MR, b_panel, b_step, tile_at(ir), mr, nr, add);
            }
            continue;
          }
          // With AVX-512, whole panels go four at a time through a 6x64
          // tile, and those left two at a time through a 6x32 tile (the
          // others' tiles are then done); a lone panel through a 12x16 tile
          // or micro_kernel.
          const int64_t panel = (jr - eight_row_end) / NR, whole_panels = (nc - eight_row_end) / NR;
          const int64_t quad_end = kPanelGroups ? whole_panels / 4 * 4 : 0;
          const int64_t pair_end = kPanelGroups ? quad_end + (whole_panels - quad_end) / 2 * 2 : 0;
          [[maybe_unused]] const int64_t group = panel < quad_end ? 4 : panel < pair_end ? 2 : 1;
          const bool grouped_before = panel < pair_end && panel % (panel < quad_end ? 4 : 2) != 0;
          for (int64_t ir = 0; ir < full_rows && !grouped_before; ir += MR) {
            const int64_t mr = std::min(MR, mc - ir);
            const float* a_rows = a_direct ? a_block + ir * a.row_stride : packed_a + ir * kc;
            const int64_t a_row_step = a_direct ? a.row_stride : 1, a_k_step = a_direct ? 1 : MR;
#if defined(__AVX512F__)
            // A lone whole panel: twelve rows where twelve are left. (Twelve
            // rows over two panels, 12x32, ran 0.90-1.04x of 6x32 on
            // ResNet-50's 1x1 layers.) Rows past mr repeat row mr-1.
            const bool twelve = group == 1 && nr == NR && ir + 2 * MR <= full_rows;
            const float* rows[2 * MR];
            for (int64_t i = 0; i < (twelve ? 2 * MR : MR); ++i) rows[i] = a_row(ir + (twelve ? i : std::min(i, mr - 1)));
            const int64_t panel_step = packed_panel ? NR * kc : NR;
            if (twelve) {
              micro_kernel_block<2 * MR, 1>(kc, rows, a_k_step, b_panel, panel_step, b_step, tile_at(ir), 2 * MR, add);
              ir += MR;  // twelve rows done
              continue;
            }
            if (group == 4) {
              micro_kernel_block<MR, 4>(kc, rows, a_k_step, b_panel, panel_step, b_step, tile_at(ir), mr, add);
              continue;
            }
            if (group == 2) {
              micro_kernel_block<MR, 2>(kc, rows, a_k_step, b_panel, panel_step, b_step, tile_at(ir), mr, add);
              continue;
            }
#endif
            micro_kernel(kc, a_rows, a_row_step, a_k_step, b_panel, b_step, tile_at(ir), mr, nr, add);
          }
          // In place, a packed last panel goes alone.
          const int64_t group_end = b_in_place && jr < whole_end ? whole_end : wide_end;
          if (full_rows < mc && ((jr - eight_row_end) % (3 * NR) == 0 || (b_in_place && jr == whole_end)) &&
              jr < wide_end) {
            // The one or two rows left, against this panel and the next two
            // (those that are not the narrow last panel, which took every row).
            const int64_t cols = std::min(3 * NR, group_end - jr), mr = mc - full_rows;
            const float* rows[2];
            for (int64_t i = 0; i < 2; ++i) rows[i] = a_row(full_rows + std::min(i, mr - 1));
            const float* panels[3];
            const int64_t panel_step = packed_panel ? NR * kc : NR;
            for (int64_t p = 0; p < 3; ++p) panels[p] = b_panel + std::min(p, (cols - 1) / NR) * panel_step;
            micro_kernel_short(kc, rows, a_direct ? 1 : MR, panels, b_step, tile_at(full_rows), mr, cols, add);
          }
        }
        if (epilogue && pc + kc == K)  // this block of C is final: mc x nc floats, in L2
          epilogue->run(epilogue->context, c.data + ic * c.row_stride + jc, c.row_stride, row0 + ic, col0 + jc, mc, nc);
      }
    }
  }
}

// Both public products: checks, then one thread's product or a split.
template <class B>
void sgemm_any(int64_t M, int64_t N, int64_t K, FloatMatrix a, B b, MutableFloatMatrix c, bool accumulate,
               const SgemmEpilogue* epilogue) {
  if (M <= 0 || N <= 0) return;
  if (epilogue && c.col_stride != 1) throw std::logic_error("sgemm: an epilogue needs C's columns contiguous");
  if (K <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) c.data[i * c.row_stride + j * c.col_stride] = 0.0f;
    if (epilogue) epilogue->run(epilogue->context, c.data, c.row_stride, 0, 0, M, N);
    return;
  }
  const int threads = cpu_threads();
  const bool split = threads > 1 && !in_parallel_region() && M * N * K >= (int64_t{1} << 21);
  if (!split) return sgemm_serial(M, N, K, a, b, c, accumulate, epilogue);
  // One range of 16-column or of 6-row (8-row) panels per thread. Each thread
  // streams its share of the operand that is cut and reads (and packs) the
  // other whole, so the larger one is cut: cut by columns, a product with a
  // 7x7 map's 49 columns had every thread stream the whole weight matrix
  // (1.15-1.3x slower than cut by rows, best of 15 runs).
  // Row ranges in eights where 8-row tiles would take every row of A.
  const int64_t row_unit = kPanelGroups && a.col_stride == 1 && M % 8 == 0 ? 8 : MR;
  const int64_t col_panels = (N + NR - 1) / NR, row_panels = (M + row_unit - 1) / row_unit;
  const bool by_rows = row_panels >= threads ? (M > N || col_panels < threads) : row_panels > col_panels;
  if (!by_rows) {
    parallel_for(col_panels, 1, [&](int64_t p0, int64_t p1) {
      const int64_t j0 = p0 * NR, j1 = std::min(N, p1 * NR);
      sgemm_serial(M, j1 - j0, K, a, b.columns_from(j0),
                   {c.data + j0 * c.col_stride, c.row_stride, c.col_stride}, accumulate, epilogue, 0, j0);
    });
  } else {
    parallel_for(row_panels, 1, [&](int64_t p0, int64_t p1) {
      const int64_t i0 = p0 * row_unit, i1 = std::min(M, p1 * row_unit);
      sgemm_serial(i1 - i0, N, K, {a.data + i0 * a.row_stride, a.row_stride, a.col_stride}, b,
                   {c.data + i0 * c.row_stride, c.row_stride, c.col_stride}, accumulate, epilogue, i0, 0);
    });
  }
}

}  // namespace

bool sgemm_available() { return true; }

void sgemm(int64_t M, int64_t N, int64_t K, FloatMatrix a, FloatMatrix b, MutableFloatMatrix c, bool accumulate,
           const SgemmEpilogue* epilogue) {
  sgemm_any(M, N, K, a, StridedB{b.data, b.row_stride, b.col_stride}, c, accumulate, epilogue);
}

void sgemm(int64_t M, int64_t N, int64_t K, FloatMatrix a, OffsetRows b, MutableFloatMatrix c, bool accumulate,
           const SgemmEpilogue* epilogue) {
  sgemm_any(M, N, K, a, OffsetB{b.data, b.row_offsets}, c, accumulate, epilogue);
}

void sgemm(int64_t M, int64_t N, int64_t K, FloatMatrix a, NormalizedRows b, MutableFloatMatrix c, bool accumulate,
           const SgemmEpilogue* epilogue) {
  sgemm_any(M, N, K, a, NormalizedB{b}, c, accumulate, epilogue);
}

#else  // no AVX2/FMA in this build: callers use Eigen.

bool sgemm_available() { return false; }

void sgemm(int64_t, int64_t, int64_t, FloatMatrix, FloatMatrix, MutableFloatMatrix, bool, const SgemmEpilogue*) {
  throw std::logic_error("sgemm: this build has no AVX2/FMA kernel; check sgemm_available() first");
}

void sgemm(int64_t, int64_t, int64_t, FloatMatrix, OffsetRows, MutableFloatMatrix, bool, const SgemmEpilogue*) {
  throw std::logic_error("sgemm: this build has no AVX2/FMA kernel; check sgemm_available() first");
}

void sgemm(int64_t, int64_t, int64_t, FloatMatrix, NormalizedRows, MutableFloatMatrix, bool, const SgemmEpilogue*) {
  throw std::logic_error("sgemm: this build has no AVX2/FMA kernel; check sgemm_available() first");
}

#endif

}  // namespace ember
