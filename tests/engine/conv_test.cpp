// conv2d against PyTorch: stride, padding, dilation, groups (depthwise and
// with a channel multiplier), bias, 1x1, batch 1, odd sizes, non-contiguous
// input; finite differences in float64; errors.
#include <gtest/gtest.h>

#include "kernels/cpu/conv2d_direct.h"
#include "tests/support/oracle.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

void check_conv(const Shape& x, const Shape& w, bool bias, Pair stride, Pair pad, Pair dil, int64_t groups) {
  std::string expr = "F.conv2d(a, b, " + std::string(bias ? "c" : "None") + ", stride=(" +
                     std::to_string(stride[0]) + "," + std::to_string(stride[1]) + "), padding=(" +
                     std::to_string(pad[0]) + "," + std::to_string(pad[1]) + "), dilation=(" +
                     std::to_string(dil[0]) + "," + std::to_string(dil[1]) + "), groups=" + std::to_string(groups) +
                     ")";
  std::vector<InputSpec> inputs{in::randn(x), in::randn(w)};
  if (bias) inputs.push_back(in::randn({w[0]}));
  check_op(inputs, expr, [&](const Inputs& v) {
    return conv2d(v[0], v[1], bias ? v[2] : Tensor(), stride, pad, dil, groups);
  }, kAccumulating);
}

TEST(Conv2d, StridePaddingDilationBias) {
  check_conv({2, 3, 9, 9}, {4, 3, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 1);
  check_conv({2, 3, 10, 11}, {5, 3, 3, 3}, false, {2, 2}, {1, 1}, {1, 1}, 1);
  check_conv({1, 3, 17, 15}, {8, 3, 7, 7}, false, {2, 2}, {3, 3}, {1, 1}, 1);  // ResNet stem, odd size
  check_conv({2, 4, 8, 8}, {6, 4, 3, 3}, true, {1, 1}, {2, 2}, {2, 2}, 1);
  check_conv({3, 2, 7, 6}, {3, 2, 2, 3}, true, {1, 2}, {0, 1}, {1, 1}, 1);   // rectangular kernel
  check_conv({2, 8, 6, 6}, {16, 8, 1, 1}, false, {1, 1}, {0, 0}, {1, 1}, 1);  // pointwise
  check_conv({2, 8, 7, 7}, {16, 8, 1, 1}, false, {2, 2}, {0, 0}, {1, 1}, 1);  // strided 1x1 (ResNet downsample)
  check_conv({1, 12, 9, 9}, {16, 12, 5, 5}, true, {1, 1}, {2, 2}, {1, 1}, 1);  // one block: im2col over threads by channel
}

// Shapes large enough for every path of the float32 GEMM (kernels/cpu/sgemm.cpp)
// in all three products: K = C KH KW over one 256-deep slice, more than 72
// output channels (two row blocks, B packed), at least 256 output pixels
// with K >= 2 OC (the weight gradient as acc^T += col x grad_out^T). Under
// 16 input channels, so the forward is not the direct kernel's. The input
// gradients of the first two (stride 1, at least 16 output channels) are
// (Conv2d.InputGradientThroughTheDirectKernel); the third's and the
// fourth's (12 output channels, K = 300 over two row blocks) are products.
TEST(Conv2d, ShapesForEveryGemmPath) {
  check_conv({2, 12, 20, 20}, {16, 12, 5, 5}, true, {1, 1}, {2, 2}, {1, 1}, 1);
  check_conv({1, 8, 30, 30}, {80, 8, 3, 3}, false, {1, 1}, {1, 1}, {1, 1}, 1);
  check_conv({2, 3, 40, 40}, {8, 3, 7, 7}, false, {2, 2}, {3, 3}, {1, 1}, 1);
  check_conv({2, 12, 20, 20}, {12, 12, 5, 5}, false, {1, 1}, {2, 2}, {1, 1}, 1);
}

// The input gradient of a stride-1 convolution is the convolution of the
// output gradient with the weights turned around (channels swapped, kernel
// rotated), padded by K - 1 - pad; where that convolution is the direct
// kernel's (at least 16 output channels here), the CPU runs it so. Forward
// through the product (under 16 input channels) or the direct kernel;
// square, uneven and zero padding (padded by K - 1), 2x2, 3x3 and 5x5
// kernels, batch 2, partial channel blocks; and ResNet's 256-channel layer
// at 14x14 over 8 samples, whose 590K turned weights are packed for the
// call because the batch pays for it (packing_paid).
TEST(Conv2d, InputGradientThroughTheDirectKernel) {
  struct Case {
    Shape x, w;
    Pair pad;
    bool packing_paid = false;
  };
  const Case cases[] = {
      {{2, 12, 14, 14}, {32, 12, 3, 3}, {1, 1}},
      {{1, 6, 11, 9}, {20, 6, 5, 5}, {2, 1}},
      {{1, 4, 8, 8}, {16, 4, 3, 3}, {0, 0}},
      {{1, 16, 10, 12}, {24, 16, 3, 3}, {1, 1}},
      {{1, 8, 9, 9}, {17, 8, 2, 2}, {0, 1}},
      {{8, 256, 14, 14}, {256, 256, 3, 3}, {1, 1}, true},
  };
  for (const Case& c : cases) {
    if (sgemm_available()) {  // the path this test is for: grad_out [N, OC, OH, OW] convolved into [N, C, H, W]
      const int64_t oh = conv_output_size(c.x[2], c.w[2], 1, c.pad[0], 1);
      const int64_t ow = conv_output_size(c.x[3], c.w[3], 1, c.pad[1], 1);
      Conv2dParams p;
      p.pad_h = c.w[2] - 1 - c.pad[0], p.pad_w = c.w[3] - 1 - c.pad[1];
      const ConvGeometry turned(zeros({c.x[0], c.w[0], oh, ow}), zeros({c.x[1], c.w[0], c.w[2], c.w[3]}), zeros(c.x),
                                p);
      EXPECT_TRUE(conv2d_direct_applies(turned, c.packing_paid)) << shape_str(c.x) << " " << shape_str(c.w);
      if (c.packing_paid) EXPECT_FALSE(conv2d_direct_applies(turned)) << shape_str(c.w) << ": packed per call";
    }
    check_conv(c.x, c.w, true, {1, 1}, c.pad, {1, 1}, 1);
  }
}

// Small output maps with a batch of at least two samples per thread (up to
// four threads): several samples' columns go side by side into one product
// (samples_per_product in kernels/cpu/conv2d.cpp), with an uneven last product.
TEST(Conv2d, SmallMapsWithSamplesSideBySide) {
  check_conv({9, 6, 7, 7}, {10, 6, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 1);
  check_conv({9, 8, 5, 5}, {12, 8, 1, 1}, false, {1, 1}, {0, 0}, {1, 1}, 1);   // pointwise
  check_conv({9, 4, 9, 9}, {6, 4, 3, 3}, true, {2, 2}, {1, 1}, {1, 1}, 1);     // stride 2: 5x5 out
  check_conv({10, 12, 6, 6}, {80, 12, 5, 5}, false, {1, 1}, {2, 2}, {1, 1}, 1);  // K = 300 > one slice
}

// Convolutions whose output rows are at most 1/8 narrower than the padded
// input's (divided by the stride) read that input in place instead of
// through im2col (reads_padded_input in kernels/cpu/conv2d.cpp): batch 1
// (the product cut over threads by columns) and one product per sample; K
// over several slices of 256; grouped, dilated, rectangular kernels, no
// padding, a single output row; strides 2 and (1, 2) and (3, 3) from the
// input's phases, odd and even widths and paddings (each phase's first
// image column at either parity); a map whose product is cut into blocks of
// output rows (over 8 MiB whole). Under 16 input channels (or grouped), so
// not the direct kernel's.
TEST(Conv2d, ReadFromThePaddedInput) {
  check_conv({1, 12, 20, 30}, {24, 12, 5, 5}, true, {1, 1}, {2, 2}, {1, 1}, 1);
  check_conv({3, 8, 12, 36}, {12, 4, 3, 3}, false, {1, 1}, {2, 2}, {2, 2}, 2);   // grouped, dilated
  check_conv({2, 6, 9, 30}, {8, 6, 3, 5}, true, {1, 1}, {1, 2}, {1, 1}, 1);      // 3x5 kernel
  check_conv({1, 5, 17, 18}, {7, 5, 3, 3}, true, {1, 1}, {0, 0}, {1, 1}, 1);     // no padding
  check_conv({1, 4, 3, 20}, {6, 4, 3, 3}, false, {1, 1}, {0, 0}, {1, 1}, 1);     // one output row
  check_conv({1, 3, 64, 62}, {8, 3, 7, 7}, true, {2, 2}, {3, 3}, {1, 1}, 1);     // ResNet's stem
  check_conv({2, 12, 30, 31}, {12, 12, 3, 3}, false, {2, 2}, {1, 1}, {1, 1}, 1); // 3x3 stride 2, odd width
  check_conv({1, 6, 11, 40}, {8, 6, 3, 3}, true, {1, 2}, {1, 2}, {1, 1}, 1);     // stride (1, 2)
  check_conv({1, 4, 33, 40}, {6, 4, 4, 4}, false, {2, 2}, {0, 0}, {1, 1}, 1);    // 4x4 stride 2, unpadded
  check_conv({1, 5, 20, 41}, {7, 5, 3, 3}, true, {3, 3}, {2, 2}, {1, 1}, 1);     // stride 3
  check_conv({2, 8, 16, 36}, {12, 4, 3, 3}, true, {2, 2}, {2, 2}, {2, 2}, 2);    // stride 2, dilated, grouped
  check_conv({1, 4, 210, 200}, {64, 4, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 1);  // products of 162 and 48 rows
}

// Same products, same order along K: a sample's output read from the
// padded input (batch 1) has the bits it has through im2col with four
// samples' columns side by side in one product (a map under 128 pixels at
// two threads: samples_per_product).
TEST(Conv2d, PaddedInputAndIm2colGiveTheSameBits) {
  const int threads = num_threads();
  set_num_threads(2);
  manual_seed(11);
  for (int64_t stride : {1, 2}) {
    // 8x14 output maps: 112 pixels.
    Tensor x = randn({4, 12, 8 * stride, 14 * stride}), w = randn({8, 12, 3, 3}), b = randn({8});
    Tensor together = conv2d(x, w, b, {stride, stride}, {1, 1});
    for (int64_t n = 0; n < 4; ++n) {
      Tensor alone = conv2d(x.slice(0, n, n + 1), w, b, {stride, stride}, {1, 1});
      EXPECT_EQ(max(abs(alone - together.slice(0, n, n + 1))).item<double>(), 0.0)
          << "stride " << stride << ", sample " << n;
    }
  }
  set_num_threads(threads);
}

// float32 convolutions with at least 16 input channels and small weights
// run the direct kernel over channel blocks (kernels/cpu/conv2d_direct.cpp):
// whole and partial blocks of 8 input and 16 output channels (20 = 16 + 4,
// 40 = 16 + 16 + 8, 9 and 8 under one vector of 8 plus a remainder), tiles
// of 1 to 12 pixels over one to four output blocks (64 and 44 channels, the
// latter's last block partial), several blocks of up to 128 output pixels, stride 2 at
// odd and even widths, 2x2, 4x4, 5x5 and 7x7 kernels, padding different in
// each direction or none, a 1x1 map, batch 2; under 8 input channels, one
// block of all of them (an RGB stem).
TEST(Conv2d, DirectOverChannelBlocks) {
  struct Case {
    Shape x, w;
    bool bias;
    Pair stride, pad;
  };
  const Case cases[] = {
      {{1, 16, 9, 11}, {16, 16, 3, 3}, true, {1, 1}, {1, 1}},
      {{2, 20, 13, 10}, {20, 20, 3, 3}, false, {1, 1}, {1, 1}},
      {{1, 24, 14, 15}, {40, 24, 3, 3}, true, {2, 2}, {1, 1}},
      {{1, 17, 9, 8}, {9, 17, 5, 5}, false, {1, 1}, {2, 2}},
      {{1, 32, 20, 21}, {33, 32, 3, 3}, true, {1, 1}, {0, 2}},
      {{1, 16, 30, 30}, {8, 16, 3, 3}, true, {1, 1}, {1, 1}},   // 900 pixels: 8 blocks
      {{1, 16, 6, 6}, {16, 16, 2, 2}, false, {2, 2}, {0, 0}},
      {{1, 16, 1, 1}, {16, 16, 3, 3}, true, {1, 1}, {1, 1}},    // 1x1 map
      {{1, 16, 23, 20}, {16, 16, 7, 7}, false, {2, 2}, {3, 3}},
      {{1, 3, 29, 26}, {20, 3, 7, 7}, true, {2, 2}, {3, 3}},     // RGB stem: one block of 3 channels
      {{2, 5, 12, 13}, {16, 5, 4, 4}, false, {1, 1}, {1, 2}},    // one block of 5
      {{1, 16, 20, 20}, {64, 16, 3, 3}, true, {1, 1}, {1, 1}},   // tiles over four output blocks
      {{1, 24, 20, 21}, {44, 24, 3, 3}, false, {1, 1}, {1, 1}},  // over three, the last partial
  };
  for (const Case& c : cases) {
    if (sgemm_available()) {  // the path this test is for
      Tensor x = zeros(c.x), w = zeros(c.w);
      Conv2dParams p;
      p.stride_h = c.stride[0], p.stride_w = c.stride[1], p.pad_h = c.pad[0], p.pad_w = c.pad[1];
      Tensor y = zeros({c.x[0], c.w[0], conv_output_size(c.x[2], c.w[2], c.stride[0], c.pad[0], 1),
                        conv_output_size(c.x[3], c.w[3], c.stride[1], c.pad[1], 1)});
      EXPECT_TRUE(conv2d_direct_applies(ConvGeometry(x, w, y, p))) << shape_str(c.x) << " " << shape_str(c.w);
    }
    check_conv(c.x, c.w, c.bias, c.stride, c.pad, {1, 1}, 1);
  }
  // ResNet's 3x3 convolutions of 512 channels on a 7x7 map stay with the
  // matrix product, which reads its 2.4M weights in place, and so does
  // MobileNetV2's RGB 3x3 stem (27 weights per output channel).
  Conv2dParams p;
  p.pad_h = p.pad_w = 1;
  auto applies = [&](const Shape& x, const Shape& w, const Shape& y) {
    return conv2d_direct_applies(ConvGeometry(zeros(x), zeros(w), zeros(y), p));
  };
  EXPECT_FALSE(applies({1, 512, 7, 7}, {512, 512, 3, 3}, {1, 512, 7, 7}));
  // Unless the weights are kept packed between calls (no gradients:
  // packed_weight_cache_test.cpp).
  EXPECT_TRUE(conv2d_direct_applies(ConvGeometry(zeros({1, 512, 7, 7}), zeros({512, 512, 3, 3}), zeros({1, 512, 7, 7}), p), true) || !sgemm_available());
  p.stride_h = p.stride_w = 2;
  EXPECT_FALSE(applies({1, 3, 32, 32}, {32, 3, 3, 3}, {1, 32, 16, 16}));
  EXPECT_TRUE(applies({1, 3, 32, 32}, {64, 3, 7, 7}, {1, 64, 16, 16}) || !sgemm_available());
}

TEST(Conv2d, GroupsAndDepthwise) {
  check_conv({2, 6, 8, 8}, {9, 2, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 3);
  check_conv({2, 8, 9, 9}, {8, 1, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 8);    // depthwise
  check_conv({2, 8, 10, 10}, {8, 1, 3, 3}, false, {2, 2}, {1, 1}, {1, 1}, 8); // depthwise, stride 2
  check_conv({1, 4, 11, 11}, {4, 1, 5, 5}, false, {2, 2}, {2, 2}, {1, 1}, 4); // depthwise 5x5 (EfficientNet)
  check_conv({2, 4, 9, 9}, {8, 1, 3, 3}, true, {1, 1}, {2, 2}, {2, 2}, 4);    // channel multiplier 2, dilated
}

// The specialised 3x3/5x5 forward: wide rows (vectorised interior), odd sizes,
// no padding, padding wider than the image, images smaller than the kernel.
// Stride 2 from 16 output columns up splits each scratch row into its even
// and odd columns: odd and even widths and paddings of 0 to 3 land the
// input on either parity. Stride 1 under 32 output columns computes the
// plane as one run on the scratch grid: square, non-square, unpadded maps.
TEST(Conv2d, DepthwiseSpecialisedShapes) {
  check_conv({2, 3, 14, 14}, {3, 1, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 3);
  check_conv({1, 4, 7, 9}, {4, 1, 5, 5}, false, {1, 1}, {2, 2}, {1, 1}, 4);
  check_conv({1, 2, 10, 31}, {2, 1, 3, 3}, true, {1, 1}, {0, 0}, {1, 1}, 2);
  check_conv({1, 3, 12, 35}, {3, 1, 5, 5}, true, {2, 2}, {2, 2}, {1, 1}, 3);
  check_conv({2, 2, 9, 40}, {2, 1, 3, 3}, false, {2, 2}, {1, 1}, {1, 1}, 2);
  check_conv({1, 2, 5, 33}, {2, 1, 3, 3}, true, {2, 2}, {3, 3}, {1, 1}, 2);
  check_conv({1, 2, 9, 35}, {2, 1, 5, 5}, false, {2, 2}, {1, 1}, {1, 1}, 2);
  check_conv({1, 3, 13, 37}, {3, 1, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 3);
  check_conv({1, 3, 14, 37}, {3, 1, 3, 3}, true, {2, 2}, {1, 1}, {1, 1}, 3);
  check_conv({1, 3, 12, 35}, {3, 1, 5, 5}, true, {1, 1}, {2, 2}, {1, 1}, 3);
  check_conv({1, 3, 15, 36}, {6, 1, 5, 5}, false, {2, 2}, {0, 0}, {1, 1}, 3);  // no padding, multiplier 2
  check_conv({2, 2, 2, 3}, {2, 1, 5, 5}, true, {1, 1}, {2, 2}, {1, 1}, 2);     // image smaller than the kernel
  check_conv({1, 2, 4, 4}, {2, 1, 3, 3}, false, {2, 2}, {3, 3}, {1, 1}, 2);     // padding wider than the kernel
  check_conv({1, 2, 1, 1}, {2, 1, 3, 3}, false, {1, 1}, {1, 1}, {1, 1}, 2);     // 1x1 image (EfficientNet's last stages)
}

// Strided convolutions through im2col (1x1 at stride 2: ResNet's
// downsampling), whose float32 stride-2 copy takes eight columns per step:
// unpadded, and padded so the first and last output columns read zeros.
TEST(Conv2d, StrideTwoColumnCopy) {
  check_conv({2, 6, 9, 40}, {10, 6, 1, 1}, true, {2, 2}, {0, 0}, {1, 1}, 1);
  check_conv({1, 5, 7, 41}, {4, 5, 1, 1}, false, {2, 2}, {1, 1}, {1, 1}, 1);
}

// float32 3x3 convolutions of at most 4 input channels on maps more than 8
// columns wide (AVX-512 builds: kernels/cpu/conv2d_few_channels.cpp): RGB
// stems at stride 2 and 1, sixteen output channels per pass and the rest one
// at a time, a grey input unpadded, padding wider than the kernel.
TEST(Conv2d, FewInputChannels) {
  check_conv({2, 3, 30, 33}, {20, 3, 3, 3}, true, {2, 2}, {1, 1}, {1, 1}, 1);
  check_conv({1, 3, 12, 40}, {32, 3, 3, 3}, false, {1, 1}, {1, 1}, {1, 1}, 1);
  check_conv({1, 1, 9, 18}, {5, 1, 3, 3}, true, {1, 1}, {0, 0}, {1, 1}, 1);
  check_conv({1, 4, 6, 17}, {16, 4, 3, 3}, true, {2, 2}, {4, 4}, {1, 1}, 1);
}

// float32 depthwise maps up to 32 output columns wide run eight channels at
// a time, one per vector lane (kernels/cpu/depthwise_channel_groups.cpp), a
// last group of fewer channels plane by plane: several groups, a group and
// a remainder, 3x3 and 5x5 at strides 1 and 2, widths that are and are not
// multiples of 8, no padding and padding wider than the kernel, a 1x1 map,
// 32 output columns (groups) and 33 (planes).
TEST(Conv2d, DepthwiseEightChannelsAtATime) {
  check_conv({2, 24, 7, 7}, {24, 1, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 24);
  check_conv({1, 13, 14, 14}, {13, 1, 3, 3}, false, {2, 2}, {1, 1}, {1, 1}, 13);  // a group and 5 planes
  check_conv({1, 16, 11, 9}, {16, 1, 5, 5}, true, {1, 1}, {2, 2}, {1, 1}, 16);
  check_conv({2, 8, 13, 10}, {8, 1, 5, 5}, false, {2, 2}, {2, 2}, {1, 1}, 8);
  check_conv({1, 16, 9, 12}, {16, 1, 3, 3}, true, {1, 1}, {0, 0}, {1, 1}, 16);  // unpadded
  check_conv({1, 8, 4, 5}, {8, 1, 3, 3}, false, {2, 2}, {3, 3}, {1, 1}, 8);     // padding wider than the kernel
  check_conv({1, 16, 1, 1}, {16, 1, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 16);   // 1x1 map
  check_conv({1, 8, 3, 32}, {8, 1, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 8);     // 32 columns: groups
  check_conv({1, 8, 3, 33}, {8, 1, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 8);     // 33: planes
  check_conv({1, 8, 5, 63}, {8, 1, 5, 5}, false, {2, 2}, {2, 2}, {1, 1}, 8);    // stride 2 to 32 columns
}

// A channel gives the same bits in a group of eight as plane by plane:
// channels 8-14 of a 16-channel convolution (the second group) are, as a
// 7-channel convolution, a last group of fewer than eight.
TEST(Conv2d, DepthwiseGroupsGiveThePlanesBits) {
  manual_seed(5);
  for (int64_t k : {3, 5}) {
    for (int64_t stride : {1, 2}) {
      Tensor x = randn({2, 16, 9, 11}), w = randn({16, 1, k, k}), b = randn({16});
      Tensor grouped = conv2d(x, w, b, {stride, stride}, {k / 2, k / 2}, {1, 1}, 16);
      Tensor planes = conv2d(x.slice(1, 8, 15).contiguous(), w.slice(0, 8, 15).contiguous(),
                             b.slice(0, 8, 15).contiguous(), {stride, stride}, {k / 2, k / 2}, {1, 1}, 7);
      EXPECT_EQ(max(abs(planes - grouped.slice(1, 8, 15))).item<double>(), 0.0) << k << "x" << k << ", stride " << stride;
    }
  }
}

// A convolution on a 1x1 map at batch 1 (squeeze-and-excitation's) is a
// matrix times a vector: a loop of dot products.
TEST(Conv2d, OnePixelMapIsDotProducts) {
  check_conv({1, 40, 1, 1}, {10, 40, 1, 1}, true, {1, 1}, {0, 0}, {1, 1}, 1);
  check_conv({1, 1152, 1, 1}, {48, 1152, 1, 1}, true, {1, 1}, {0, 0}, {1, 1}, 1);
  gradcheck([](const Inputs& x) { return conv2d(x[0], x[1], x[2]); }, {leaf64({1, 6, 1, 1}), leaf64({4, 6, 1, 1}), leaf64({4})});
}

TEST(Conv2d, NonContiguousAndUnbatchedInput) {
  check_op({in::randn({2, 5, 5, 3}), in::randn({4, 3, 3, 3})}, "F.conv2d(a.permute(0, 3, 1, 2), b, padding=1)",
           [](const Inputs& x) { return conv2d(x[0].permute({0, 3, 1, 2}), x[1], Tensor(), {1, 1}, {1, 1}); },
           kAccumulating);
  check_op({in::randn({3, 6, 6}), in::randn({2, 3, 3, 3})}, "F.conv2d(a, b)",
           [](const Inputs& x) { return conv2d(x[0], x[1]); }, kAccumulating);
}

TEST(Conv2d, FiniteDifferenceGradients) {
  gradcheck([](const Inputs& x) { return conv2d(x[0], x[1], x[2], {2, 1}, {1, 1}); },
            {leaf64({2, 2, 5, 4}), leaf64({3, 2, 3, 3}), leaf64({3})});
  gradcheck([](const Inputs& x) { return conv2d(x[0], x[1], x[2], {1, 1}, {1, 1}, {1, 1}, 3); },
            {leaf64({1, 3, 4, 5}), leaf64({3, 1, 3, 3}), leaf64({3})});
  gradcheck([](const Inputs& x) { return conv2d(x[0], x[1], Tensor(), {1, 1}, {2, 2}, {2, 2}, 2); },
            {leaf64({2, 4, 5, 5}), leaf64({2, 2, 3, 3})});
}

TEST(Conv2d, Errors) {
  expect_error([] { conv2d(zeros({3, 8}), zeros({4, 3, 3, 3})); }, {"conv2d", "4-D", "[3, 8]"});
  expect_error([] { conv2d(zeros({2, 3, 8, 8}), zeros({4, 2, 3, 3})); }, {"conv2d", "[4, 2, 3, 3]", "[2, 3, 8, 8]"});
  expect_error([] { conv2d(zeros({1, 4, 8, 8}), zeros({4, 2, 3, 3}), Tensor(), {1, 1}, {0, 0}, {1, 1}, 3); },
               {"conv2d", "divisible", "groups 3"});
  expect_error([] { conv2d(zeros({1, 3, 2, 2}), zeros({4, 3, 3, 3})); }, {"conv2d", "larger than the padded input"});
  expect_error([] { conv2d(zeros({1, 3, 8, 8}), zeros({4, 3, 3, 3}), zeros({5})); }, {"conv2d", "bias", "[5]"});
  expect_error([] { conv2d(zeros({1, 3, 8, 8}), zeros({4, 3, 3, 3}, DType::Float64)); }, {"conv2d", "float64"});
}

}  // namespace
}  // namespace ember
