// The float32 GEMM behind CPU convolution (kernels/cpu/sgemm.cpp) against a
// float64 product, on shapes around every block edge (micro-tiles 6x16,
// 12x8 for a last panel of at most 8 columns, 2x48 for one or two rows left
// below the 6-row tiles; blocks KC = 256, MC = 72, NC = 512; B read in place
// up to 96 rows of C, packed above), with transposed operands, a strided
// output, accumulation and both ways of splitting over threads. Every
// element must be within the standard bound of a float32 dot product,
// |c - exact| <= 2 K u (|A| |B|) with u = 2^-24, of the exact value.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/threads.h"
#include "kernels/cpu/sgemm.h"

namespace ember::test {
namespace {

struct Case {
  int64_t M, N, K;
  bool a_transposed, b_transposed, accumulate;
};

void check(const Case& t, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> a(static_cast<size_t>(t.M * t.K)), b(static_cast<size_t>(t.K * t.N));
  for (float& v : a) v = u(rng);
  for (float& v : b) v = u(rng);
  // A stored as M x K (row-major) or, transposed, as K x M; likewise B.
  const FloatMatrix am = t.a_transposed ? FloatMatrix{a.data(), 1, t.M} : FloatMatrix{a.data(), t.K, 1};
  const FloatMatrix bm = t.b_transposed ? FloatMatrix{b.data(), 1, t.K} : FloatMatrix{b.data(), t.N, 1};
  // C in a wider buffer (row stride N + 3) whose padding must stay untouched.
  const int64_t ldc = t.N + 3;
  std::vector<float> c(static_cast<size_t>(t.M * ldc));
  for (float& v : c) v = u(rng);
  const std::vector<float> before = c;
  sgemm(t.M, t.N, t.K, am, bm, {c.data(), ldc, 1}, t.accumulate);
  const std::string what = "M=" + std::to_string(t.M) + " N=" + std::to_string(t.N) + " K=" + std::to_string(t.K) +
                           (t.a_transposed ? " A^T" : "") + (t.b_transposed ? " B^T" : "") +
                           (t.accumulate ? " +=" : "");
  int bad = 0;
  for (int64_t i = 0; i < t.M; ++i) {
    for (int64_t j = 0; j < t.N; ++j) {
      double exact = t.accumulate ? before[static_cast<size_t>(i * ldc + j)] : 0.0, magnitude = std::abs(exact);
      for (int64_t k = 0; k < t.K; ++k) {
        const double x = am.data[i * am.row_stride + k * am.col_stride], y = bm.data[k * bm.row_stride + j * bm.col_stride];
        exact += x * y;
        magnitude += std::abs(x * y);
      }
      const double bound = 2.0 * static_cast<double>(t.K + 1) * std::ldexp(1.0, -24) * magnitude;
      const double got = c[static_cast<size_t>(i * ldc + j)];
      if (std::abs(got - exact) > bound && ++bad <= 3)
        ADD_FAILURE() << what << ": c[" << i << "," << j << "] = " << got << ", exact " << exact << ", bound " << bound;
    }
    for (int64_t j = t.N; j < ldc; ++j)
      if (c[static_cast<size_t>(i * ldc + j)] != before[static_cast<size_t>(i * ldc + j)] && ++bad <= 3)
        ADD_FAILURE() << what << ": wrote past column N in row " << i;
  }
}

TEST(Sgemm, BlockEdgesTransposesAndAccumulation) {
  if (!sgemm_available()) GTEST_SKIP() << "this build has no AVX2/FMA sgemm kernel (Eigen does the products)";
  set_num_threads(1);
  uint32_t seed = 1;
  for (int64_t M : {1, 2, 5, 6, 7, 8, 13, 44, 72, 73, 74, 96, 97, 150})
    for (int64_t N : {1, 8, 9, 15, 16, 17, 24, 49, 513})
      for (int64_t K : {1, 7, 256, 257, 600}) {
        check({M, N, K, false, false, false}, seed++);
        if ((M + N + K) % 3 == 0) check({M, N, K, true, false, true}, seed++);
        if ((M + N + K) % 3 == 1) check({M, N, K, false, true, false}, seed++);
        if ((M + N + K) % 3 == 2) check({M, N, K, true, true, true}, seed++);
      }
}

// Outside a parallel region a large product is split over threads: by row
// panels when A is the larger operand (M > N) or N is too narrow to give
// every thread a column panel, by column panels otherwise.
TEST(Sgemm, SplitOverThreads) {
  if (!sgemm_available()) GTEST_SKIP() << "this build has no AVX2/FMA sgemm kernel";
  set_num_threads(3);
  check({130, 700, 300, false, false, false}, 7);  // columns
  check({700, 20, 300, false, true, true}, 8);     // rows: N too narrow
  check({512, 49, 300, false, false, false}, 9);   // rows: a 7x7 map's product, A larger
  check({200, 64, 300, true, true, true}, 10);     // rows, both transposed, accumulating
  check({6, 2000, 300, false, false, true}, 11);   // columns: one row panel only
  check({100, 40, 2000, true, false, false}, 12);  // rows: M > N with a column panel per thread
  set_num_threads(1);
}

// An element of C gets the same bits whichever tile computes it: a 6x16
// tile, the 12x8 one of a narrow last panel (at most 8 columns) or the 2x48
// one of the one or two rows left below the 6-row tiles. A convolution's
// output pixel must not depend on how many columns (samples, rows of the
// map) share its product. Products of 31 x 17 (a row and a column left
// over), 32 x 41 (two rows over three panels, the last 9 columns wide) and
// 2 x 60 against the same elements of a 102 x 64 product, whose tiles are
// all whole; plain and accumulating, A read in place and packed
// (transposed), over K slices. The parts (at most 96 rows) read B in
// place, the whole product packs it: the same bits either way.
TEST(Sgemm, EdgeTilesMatchWholeTilesBitwise) {
  if (!sgemm_available()) GTEST_SKIP() << "this build has no AVX2/FMA sgemm kernel";
  set_num_threads(1);
  const int64_t M = 102, K = 300, N = 64;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> a(static_cast<size_t>(M * K)), b(static_cast<size_t>(K * N)), start(static_cast<size_t>(M * N));
  for (float& v : a) v = u(rng);
  for (float& v : b) v = u(rng);
  for (float& v : start) v = u(rng);
  std::vector<float> at(a.size());  // A transposed: the same matrix stored K x M
  for (int64_t i = 0; i < M; ++i)
    for (int64_t k = 0; k < K; ++k) at[static_cast<size_t>(k * M + i)] = a[static_cast<size_t>(i * K + k)];
  for (bool a_transposed : {false, true})
    for (bool accumulate : {false, true}) {
      const FloatMatrix am = a_transposed ? FloatMatrix{at.data(), 1, M} : FloatMatrix{a.data(), K, 1};
      std::vector<float> whole = start;
      sgemm(M, N, K, am, {b.data(), N, 1}, {whole.data(), N, 1}, accumulate);
      for (auto [m, n] : {std::pair<int64_t, int64_t>{31, 17}, {32, 41}, {2, 60}, {90, 64}}) {
        std::vector<float> part = start;
        sgemm(m, n, K, am, {b.data(), N, 1}, {part.data(), N, 1}, accumulate);
        int bad = 0;
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) {
            const size_t ij = static_cast<size_t>(i * N + j);
            const float want = i < m && j < n ? whole[ij] : start[ij];  // outside m x n: untouched
            if (part[ij] != want && ++bad <= 3)
              ADD_FAILURE() << m << "x" << n << (a_transposed ? " A^T" : " A") << (accumulate ? " +=" : "") << ": c["
                            << i << "," << j << "] = " << part[ij] << ", want " << want;
          }
      }
    }
}

// The epilogue sees every element of C exactly once, after the last slice
// of K has been added (its value then is the final one), at the position
// (row0, col0) it names: three row blocks, two column blocks and two K
// slices, in one thread and cut over three by columns and by rows.
TEST(Sgemm, EpilogueSeesEachFinalElementOnce) {
  if (!sgemm_available()) GTEST_SKIP() << "this build has no AVX2/FMA sgemm kernel";
  struct Seen {
    float* c;
    int64_t ldc, N;
    std::vector<int> count;
    std::vector<float> value;
    bool misplaced = false;
  };
  for (auto [M, N, threads] : {std::tuple<int64_t, int64_t, int>{150, 600, 1}, {150, 600, 3}, {600, 150, 3}}) {
    const int64_t K = 300, ldc = N + 3;
    std::mt19937 rng(21);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> a(static_cast<size_t>(M * K)), b(static_cast<size_t>(K * N)), c(static_cast<size_t>(M * ldc));
    for (float& v : a) v = u(rng);
    for (float& v : b) v = u(rng);
    Seen seen{c.data(), ldc, N, std::vector<int>(static_cast<size_t>(M * N)), std::vector<float>(static_cast<size_t>(M * N))};
    const SgemmEpilogue hook{[](const void* context, float* block, int64_t row_stride, int64_t row0, int64_t col0,
                                int64_t rows, int64_t cols) {
                               auto& s = *static_cast<Seen*>(const_cast<void*>(context));
                               if (block != s.c + row0 * s.ldc + col0 || row_stride != s.ldc) s.misplaced = true;
                               for (int64_t i = 0; i < rows; ++i)
                                 for (int64_t j = 0; j < cols; ++j) {
                                   const size_t at = static_cast<size_t>((row0 + i) * s.N + col0 + j);
                                   ++s.count[at];
                                   s.value[at] = block[i * row_stride + j];
                                 }
                             },
                             &seen};
    set_num_threads(threads);
    sgemm(M, N, K, {a.data(), K, 1}, {b.data(), N, 1}, {c.data(), ldc, 1}, false, &hook);
    set_num_threads(1);
    EXPECT_FALSE(seen.misplaced) << M << "x" << N << ", " << threads << " threads";
    int bad = 0;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        const size_t at = static_cast<size_t>(i * N + j);
        if ((seen.count[at] != 1 || seen.value[at] != c[static_cast<size_t>(i * ldc + j)]) && ++bad <= 3)
          ADD_FAILURE() << M << "x" << N << ", " << threads << " threads: element (" << i << ", " << j << ") seen "
                        << seen.count[at] << " times, last as " << seen.value[at] << ", final "
                        << c[static_cast<size_t>(i * ldc + j)];
      }
  }
}

// B given by where its rows start (OffsetRows, a convolution's padded
// input): the same bits as the same rows copied into a strided matrix,
// with rows that overlap and repeat, over K slices, in one thread and cut
// over three by columns and by rows.
TEST(Sgemm, OffsetRowsEqualTheRowsCopied) {
  if (!sgemm_available()) GTEST_SKIP() << "this build has no AVX2/FMA sgemm kernel";
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> source(4000);
  for (float& v : source) v = u(rng);
  for (auto [M, N, K, threads] : {std::tuple<int64_t, int64_t, int64_t, int>{20, 100, 300, 1},
                                  {130, 700, 300, 3}, {700, 40, 300, 3}, {7, 17, 5, 1}}) {
    set_num_threads(threads);
    std::vector<int64_t> offsets(static_cast<size_t>(K));
    for (int64_t k = 0; k < K; ++k) offsets[static_cast<size_t>(k)] = (k * 37) % (4000 - N);  // overlapping runs
    std::vector<float> a(static_cast<size_t>(M * K)), b(static_cast<size_t>(K * N));
    for (float& v : a) v = u(rng);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) b[static_cast<size_t>(k * N + j)] = source[static_cast<size_t>(offsets[k] + j)];
    std::vector<float> strided(static_cast<size_t>(M * N)), offset(strided.size());
    sgemm(M, N, K, {a.data(), K, 1}, {b.data(), N, 1}, {strided.data(), N, 1}, false);
    sgemm(M, N, K, {a.data(), K, 1}, OffsetRows{source.data(), offsets.data()}, {offset.data(), N, 1}, false);
    int bad = 0;
    for (size_t i = 0; i < strided.size(); ++i)
      if (offset[i] != strided[i] && ++bad <= 3)
        ADD_FAILURE() << M << "x" << N << "x" << K << ", " << threads << " threads: element " << i << " is "
                      << offset[i] << ", copied rows give " << strided[i];
  }
  set_num_threads(1);
}

// B normalised by rows as it is packed (a batch norm and ReLU in front of a
// 1x1 convolution) gives the bits of the product with B normalised first:
// packed and read in place (at most 96 rows of C), K over several slices,
// a partial last panel and a narrow one, one and three threads.
TEST(Sgemm, NormalizedRowsEqualTheRowsNormalisedFirst) {
  if (!sgemm_available()) GTEST_SKIP() << "this build has no AVX2/FMA sgemm kernel";
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (auto [M, N, K, threads] : {std::tuple<int64_t, int64_t, int64_t, int>{20, 100, 300, 1},
                                  {128, 700, 600, 3}, {130, 37, 70, 3}, {7, 17, 5, 1}, {96, 196, 64, 1}}) {
    for (bool relu : {false, true}) {
      set_num_threads(threads);
      std::vector<float> a(static_cast<size_t>(M * K)), x(static_cast<size_t>(K * N)), normalised(x.size());
      std::vector<float> scale(static_cast<size_t>(K)), shift(scale.size());
      for (float& v : a) v = u(rng);
      for (float& v : x) v = u(rng);
      for (size_t k = 0; k < scale.size(); ++k) scale[k] = 2 * u(rng), shift[k] = u(rng);
      for (int64_t k = 0; k < K; ++k)
        for (int64_t j = 0; j < N; ++j) {
          const size_t i = static_cast<size_t>(k * N + j);
          const float v = std::fma(x[i], scale[static_cast<size_t>(k)], shift[static_cast<size_t>(k)]);
          normalised[i] = relu ? std::max(0.0f, v) : v;
        }
      std::vector<float> first(static_cast<size_t>(M * N)), packing(first.size());
      sgemm(M, N, K, {a.data(), K, 1}, {normalised.data(), N, 1}, {first.data(), N, 1}, false);
      sgemm(M, N, K, {a.data(), K, 1}, NormalizedRows{x.data(), N, scale.data(), shift.data(), relu},
            {packing.data(), N, 1}, false);
      int bad = 0;
      for (size_t i = 0; i < first.size(); ++i)
        if (packing[i] != first[i] && ++bad <= 3)
          ADD_FAILURE() << M << "x" << N << "x" << K << ", " << threads << " threads, relu " << relu << ": element "
                        << i << " is " << packing[i] << ", normalised first " << first[i];
    }
  }
  set_num_threads(1);
}

TEST(Sgemm, EmptyInnerDimensionClearsOrKeeps) {
  if (!sgemm_available()) GTEST_SKIP() << "this build has no AVX2/FMA sgemm kernel";
  std::vector<float> c(6, 5.0f);
  sgemm(2, 3, 0, {nullptr, 0, 1}, {nullptr, 3, 1}, {c.data(), 3, 1}, true);
  EXPECT_EQ(c, std::vector<float>(6, 5.0f));
  sgemm(2, 3, 0, {nullptr, 0, 1}, {nullptr, 3, 1}, {c.data(), 3, 1}, false);
  EXPECT_EQ(c, std::vector<float>(6, 0.0f));
}

}  // namespace
}  // namespace ember::test
