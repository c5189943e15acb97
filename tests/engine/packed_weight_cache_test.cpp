// The cache of packed weights (kernels/cpu/packed_weight_cache.h): packed
// once per version of a weight, packed again after any in-place write,
// bounded, and the convolutions that read it against PyTorch after their
// weights change in place.
#include <gtest/gtest.h>

#include "kernels/cpu/conv2d_direct.h"
#include "kernels/cpu/packed_weight_cache.h"
#include "tests/support/oracle.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

constexpr PackedWeightCache::Layout kLayout{7, 1, 2, 3, 4};

bool same(const Tensor& a, const Tensor& b) { return max(abs(a - b)).item<double>() == 0.0; }

// Packs weight's values times two, counting the packs.
Tensor get(PackedWeightCache& cache, const Tensor& weight, int* packs) {
  const int64_t n = weight.numel();
  return cache.get(weight, kLayout, n, [&](float* out) {
    ++*packs;
    const float* w = static_cast<const float*>(weight.data_ptr());
    for (int64_t i = 0; i < n; ++i) out[i] = 2 * w[i];
  });
}

TEST(PackedWeightCache, PacksOncePerVersionOfTheWeight) {
  PackedWeightCache cache(size_t{1} << 20);
  NoGradGuard no_grad;
  Tensor w = randn({64});
  int packs = 0;
  const Tensor first = get(cache, w, &packs);
  const Tensor again = get(cache, w, &packs);
  EXPECT_EQ(packs, 1);
  EXPECT_EQ(first.data_ptr(), again.data_ptr());
  EXPECT_TRUE(same(again, w * 2.0));
  // Every in-place write bumps the storage's version: packed again.
  w.add_(1.0);
  EXPECT_TRUE(same(get(cache, w, &packs), w * 2.0));
  w.copy_(randn({64}));
  EXPECT_TRUE(same(get(cache, w, &packs), w * 2.0));
  EXPECT_EQ(packs, 3);
  EXPECT_EQ(cache.entries(), 1u);  // the stale forms were replaced
  // A view at another offset of the same storage is another weight.
  const Tensor half = w.narrow(0, 32, 32);
  EXPECT_TRUE(same(get(cache, half, &packs), half * 2.0));
  EXPECT_EQ(packs, 4);
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_EQ(cache.bytes(), (64u + 32u) * sizeof(float));
  // Another layout of the same weight is packed on its own.
  cache.get(w, {8, 1, 2, 3, 4}, 64, [&](float*) { ++packs; });
  EXPECT_EQ(packs, 5);
}

TEST(PackedWeightCache, DropsTheLeastRecentlyUsedAndDeadStorages) {
  PackedWeightCache cache((3 * 256 + 16) * sizeof(float));  // room for three of 256 floats and one of 16
  Tensor a = randn({256}), b = randn({256}), c = randn({256}), d = randn({256});
  int packs = 0;
  get(cache, a, &packs);
  get(cache, b, &packs);
  get(cache, c, &packs);
  get(cache, a, &packs);  // a is now the most recent, b the least
  get(cache, d, &packs);  // b goes
  EXPECT_EQ(packs, 4);
  EXPECT_EQ(cache.entries(), 3u);
  get(cache, a, &packs);
  get(cache, d, &packs);
  EXPECT_EQ(packs, 4);
  get(cache, b, &packs);  // packed again; c (the least recent now) goes
  EXPECT_EQ(packs, 5);
  {
    Tensor gone = randn({16});
    get(cache, gone, &packs);  // fits beside the three
    EXPECT_EQ(cache.entries(), 4u);
  }
  // The dead storage's entry goes first at the next insertion; then the
  // least recently used live one (a) to make room for c.
  get(cache, c, &packs);
  EXPECT_EQ(packs, 7);
  EXPECT_EQ(cache.entries(), 3u);
  EXPECT_EQ(cache.bytes(), 3u * 256u * sizeof(float));
  get(cache, b, &packs);
  get(cache, d, &packs);
  EXPECT_EQ(packs, 7);
  get(cache, a, &packs);
  EXPECT_EQ(packs, 8);
}

TEST(PackedWeightCache, WeightsLargerThanTheCapacityAreNotKept) {
  PackedWeightCache cache(100 * sizeof(float));
  Tensor w = randn({128});
  int packs = 0;
  EXPECT_TRUE(same(get(cache, w, &packs), w * 2.0));
  EXPECT_TRUE(same(get(cache, w, &packs), w * 2.0));
  EXPECT_EQ(packs, 2);
  EXPECT_EQ(cache.entries(), 0u);
  PackedWeightCache off(0);
  get(off, w, &packs);
  EXPECT_EQ(off.entries(), 0u);
}

// Without gradients the direct convolution keeps its packed weights, also
// for ResNet's 256- and 512-channel layers (which packing per call would
// cost more than it saves) and for 1x1 kernels on maps of up to 64 pixels
// (each thread packing its own copy of the input on a map of one pixel
// block); after the weights are written in place, the result follows them.
TEST(PackedWeightCache, ConvolutionsFollowWeightsWrittenInPlace) {
  EMBER_REQUIRE_TORCH();
  struct Case {
    Shape x, w;
    int64_t stride, pad;
  };
  const Case cases[] = {
      {{1, 512, 7, 7}, {512, 512, 3, 3}, 1, 1},
      {{1, 256, 14, 14}, {512, 256, 3, 3}, 2, 1},
      {{2, 64, 15, 13}, {80, 64, 3, 3}, 1, 1},   // five output blocks: tiles over two and three
      {{2, 64, 7, 7}, {80, 64, 3, 3}, 1, 1},     // one pixel block per sample, on two threads
      {{1, 576, 7, 7}, {160, 576, 1, 1}, 1, 0},  // MobileNetV2's 1x1 at 7x7
      {{1, 256, 14, 14}, {512, 256, 1, 1}, 2, 0},  // ResNet's strided 1x1 down to 7x7
      {{1, 1152, 1, 1}, {48, 1152, 1, 1}, 1, 0},   // a 1x1 map (squeeze and excitation): one thread
  };
  for (const Case& c : cases) {
    NoGradGuard no_grad;
    const Tensor x = randn(c.x), b = randn({c.w[0]});
    Tensor w = randn(c.w);
    const Pair stride{c.stride, c.stride}, pad{c.pad, c.pad};
    const std::string expr =
        "F.conv2d(a, b, c, stride=" + std::to_string(c.stride) + ", padding=" + std::to_string(c.pad) + ")";
    if (sgemm_available()) {
      const Tensor y = empty({c.x[0], c.w[0], conv_output_size(c.x[2], c.w[2], c.stride, c.pad, 1),
                              conv_output_size(c.x[3], c.w[3], c.stride, c.pad, 1)});
      Conv2dParams p;
      p.stride_h = p.stride_w = c.stride, p.pad_h = p.pad_w = c.pad;
      EXPECT_TRUE(conv2d_direct_applies(ConvGeometry(x, w, y, p), true)) << shape_str(c.w);
    }
    const uint64_t packs = packed_weight_cache().packs();
    for (int round = 0; round < 3; ++round) {
      const Tensor ours = conv2d(x, w, b, stride, pad);
      const Tensor again = conv2d(x, w, b, stride, pad);
      EXPECT_TRUE(same(ours, again));
      const Tensor theirs = torch_eval(expr, {x, w, b})[0];
      EXPECT_LT(relative_error(ours.to(DType::Float64), theirs), 1e-5) << shape_str(c.w) << " round " << round;
      if (round == 0) w.mul_(-0.5);  // in place
      if (round == 1) w.copy_(randn(c.w));
    }
    // Packed once per version of the weights, where the direct kernel runs.
    if (sgemm_available()) EXPECT_EQ(packed_weight_cache().packs(), packs + 3) << shape_str(c.w);
  }
  // A 1x1 kernel on a 14x14 map stays with the matrix product.
  Conv2dParams p;
  EXPECT_FALSE(conv2d_direct_applies(ConvGeometry(zeros({1, 96, 14, 14}), zeros({576, 96, 1, 1}),
                                                  zeros({1, 576, 14, 14}), p), true));
}

}  // namespace
}  // namespace ember
