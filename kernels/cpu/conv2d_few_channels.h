// A float32 3x3 convolution of an input with at most 4 channels (the RGB
// stems of MobileNet and EfficientNet) on AVX-512 builds:
//
//   y[n, oc, oh, ow] = epilogue(b[oc] + sum_{c, ki, kj} w[oc, c, ki, kj] * x[n, c, oh*S - ph + ki, ow*S - pw + kj])
//
// With 27 values per output pixel, a matrix product spends as much on its
// tiles' loads and stores as on multiply-adds, and the direct kernel over
// channel blocks fills 3 of a block's 8 lanes. Here a register holds
// sixteen output columns of one channel, read straight from the input with
// masked loads standing in for the padding (as depthwise_rows.h does); each
// of the 27 input vectors of a chunk is loaded once (at stride 2: 32 columns
// and a permute) and feeds sixteen output channels' accumulators. The batch
// norm and a ReLU or ReLU6 are applied in the register before the store;
// other epilogues run on each plane afterwards. Each output sums the bias,
// then its taps in (c, ki, kj) order.
//
// Launch shape: threads over (sample, output row); a row is OW/16 chunks of
// OC/16 channel groups. Bytes per output element: the input read once from
// memory (4 * C * S^2 / OC bytes, shared by all channels) and 9 times from
// L1 per group of sixteen channels; the output written once. Flops: 2*C*9
// per output element.
#pragma once

#include "kernels/cpu/conv_epilogue.h"
#include "kernels/cpu/conv_geometry.h"

namespace ember {

// True on AVX-512 builds for one group of at most 4 input channels, a 3x3
// kernel at stride 1 or 2 (both directions alike), no dilation, maps more
// than 8 output columns wide.
bool conv2d_few_channels_applies(const ConvGeometry& g);

void conv2d_few_channels_forward(float* y, const float* x, const float* w, const float* bias, const ConvGeometry& g,
                                 const ConvEpilogue<float>& epi);

}  // namespace ember
