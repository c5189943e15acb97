// Direct float32 convolution over channel blocks (conv2d.cpp calls it for
// NCHW convolutions with a spatial kernel, one group, no dilation, stride 1
// or 2). No im2col and no packing of its columns: where the output has few
// channels (DenseNet's 32, ResNet's 64 at 56x56) the matrix product packed
// each input value nine times (once per tap of a 3x3 kernel) for only a
// few 6-row tiles to read, and that packing, not the multiply-adds, was the
// gap to ONNX Runtime's blocked kernel.
//
//   1. The input is copied once into blocks of eight channels (or one block
//      of all of them, under eight), each a zero-bordered plane whose pixels
//      hold their channels' values side by side ([C/8][H + 2 pad][W + 2
//      pad][8]); the weights into blocks of 16 output channels,
//      [OC/16][C/8][KH][KW][8][16]: for one input channel and tap, the 16
//      output channels' weights are one pair of AVX2 vectors.
//   2. A tile is 6 output pixels x 16 output channels in twelve 8-float
//      accumulators. Per (input channel, tap): the two weight vectors are
//      loaded, each of the six pixels' input value is broadcast, twelve
//      fused multiply-adds (the 6x16 shape of sgemm.cpp's micro-kernel,
//      with the roles turned: the weights are the packed operand, the
//      input is read in place). Along a kernel row, the taps' input values
//      (8 channels x KW taps) are contiguous, so that loop has one counter.
//      With AVX-512 the 16 output channels are one 16-float register, and a
//      tile spans up to four blocks of them: 12 pixels x 16 or 32 channels,
//      8 x 48, 6 x 64, 24 of the 32 registers holding sums. Per (input
//      channel, tap) each input value is broadcast once for all the blocks
//      and each weight vector loaded once for all the pixels: at 6 x 64, 10
//      loads per 24 multiply-adds where 12 x 16 needs 13 per 12 (the loads,
//      not the multiply-adds, bounded that tile at about 77% of the peak).
//   3. The input channels run in chunks of about 144 channel blocks x taps
//      (128 channels of a 3x3 kernel, 1152 of a 1x1) while every tile of a
//      block of pixels uses them; a tile's partial sums wait in a small
//      buffer between chunks. The chunk's weights (72 KiB per output block)
//      stream from L2, in the order the tile reads them. Chunks of 18 (9
//      KiB per block, kept in L1) sent every tile's 24 sums through that
//      buffer eight times as often: single layers ran 1.02-1.03x faster
//      with 144 (ResNet's and DenseNet's 3x3 layers, 1x1 layers on 7x7
//      maps; one thread, alternating).
//   4. The block's sums are transposed back into the NCHW output, eight
//      pixels x eight channels at a time; a folded batch norm and a ReLU or
//      ReLU6 are applied to the transposed registers before the store, and
//      any other epilogue (bias, residual) runs on the block while in cache.
//
// Launch shape: per sample, threads over (block of about 128 output pixels,
// group of up to four blocks of 16 output channels) items, smaller groups
// where that leaves threads idle; the packing spreads over threads too.
// The weights are packed per call, or kept packed between calls where no
// gradient is recorded (packed_weight_cache.h). Bytes per output element:
// the packed input's copy, 8 * C * stride^2 / OC (read and written once
// per call), then 4 written; the KH*KW*C input
// values each element needs are broadcast from L1 and L2. Flops: 2*C*KH*KW
// per output element.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"
#include "kernels/cpu/conv_geometry.h"
#include "kernels/cpu/register_epilogue.h"
#include "kernels/cpu/sgemm.h"

namespace ember {

// True where DirectConv2d runs g and is the faster path: an AVX2/FMA build,
// one group, no dilation, stride 1 or 2 in both directions, a kernel of at
// least 2x2; at least 16 input channels, or up to 8 in one block with at
// least 64 weights per output channel (an RGB 7x7 stem). packing_paid: the
// caller knows that packing the weights costs little next to the call
// (they are kept packed between calls, or an input gradient's product
// would cost more); then also 1x1 kernels on maps of at most 64 pixels.
// Otherwise, weights small enough that packing them per call costs little
// next to the product (at most 64K values, or 512K with at least 392
// output pixels: ResNet's 3x3 layers of 256 and 512 channels on 14x14 and
// 7x7 maps stay with the matrix product, which reads its weights in place).
bool conv2d_direct_applies(const ConvGeometry& g, bool packing_paid = false);

// The weights of one convolution, packed in blocks of output channels;
// forward() then runs each sample.
class DirectConv2d {
 public:
  // Packs `weight` [OC][C][KH][KW] for this call.
  DirectConv2d(const float* weight, const ConvGeometry& g);
  // Weights packed before by pack_weights (kept between calls).
  DirectConv2d(Tensor packed_weight, const ConvGeometry& g);

  // Floats of the packed weights, and the packing itself.
  static int64_t packed_weight_size(const ConvGeometry& g);
  static void pack_weights(const float* weight, const ConvGeometry& g, float* out);

  // y[OC][OH*OW] = conv(x[C][H][W]) for one sample. in_register (its
  // scales and shifts per output channel) is applied to the sums as they
  // are transposed into y, so a batch norm and ReLU or ReLU6 take no pass
  // of their own; then `finish`, if given, runs on each block of y as it
  // becomes final: rows are output channels, columns output pixels (row0,
  // col0: the block's first channel and pixel; block points at
  // y[row0][col0]; row stride OH*OW).
  void forward(const float* x, float* y, const SgemmEpilogue* finish, const RegisterEpilogue& in_register = {}) const;

 private:
  ConvGeometry g_;
  int64_t in_block_ = 0;  // input channels per block: 8, or all of them under 8
  int64_t in_blocks_ = 0, out_blocks_ = 0, padded_h_ = 0, padded_w_ = 0;
  Tensor packed_weight_;
  std::vector<int64_t> offsets_;  // where each output pixel's window starts in a block of the packed input
};

}  // namespace ember
