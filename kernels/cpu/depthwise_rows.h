// Depthwise convolution of one float32 plane with AVX-512, sixteen output
// columns per register, read straight from the input plane (depthwise_conv2d.cpp
// calls it on AVX-512 builds):
//
//   out[oh, ow] = epilogue(bias + sum_{ki, kj} w[ki, kj] * x[oh*S - ph + ki, ow*S - pw + kj])
//
// Masked loads stand in for the zero padding: a load's lanes outside the
// plane's columns read as zero (and cannot fault), and rows outside it are
// skipped. So there is no padded copy of the plane, and a 14-column map
// needs no channel interleaving to fill a register. At stride 2 each tap
// loads 32 consecutive columns and keeps every second one (one permute).
// Four output rows go at a time: their taps share the loaded input rows,
// and four independent chains of fused multiply-adds hide the latency.
// Each output value sums its taps in (ki, kj) order from the bias, as the
// plane kernels do, so the bits are theirs. The batch norm and a ReLU or
// ReLU6 (conv_epilogue.h) are applied in the register before the store,
// with the arithmetic of batch_norm_rows.h's clamp_row.
//
// Launch shape: one call per output plane; the caller threads over planes.
// Bytes per output element: the input read once from memory (4 * S^2 bytes)
// and K*K times from L1 (K rows of each block are live at once); the output
// written once. Flops: 2*K*K per output element (plus 2 for the epilogue).
#pragma once

#include <cstdint>

#include "kernels/cpu/conv_geometry.h"

namespace ember {

// True on AVX-512 builds for a square 3x3 or 5x5 kernel at stride 1 or 2
// (both directions alike), no dilation, on maps more than 8 output columns
// wide. Narrower maps would fill under half of each register, and the
// channel-group kernel (depthwise_channel_groups.h) runs them faster.
bool depthwise_rows_available(const ConvGeometry& g);

// The plane's epilogue, applied in the register before the store: `mode`
// is ConvEpilogue::register_mode() (0: the sums as they are; 1-3: scale and
// shift, then nothing, ReLU or ReLU6), with the channel's scale and shift.
struct DepthwiseRowsEpilogue {
  int mode = 0;
  float scale = 1.0f, shift = 0.0f;
};

// One output plane (OH x OW at out) from one input plane (H x W at x) and
// its K*K weights.
void depthwise_rows_plane(const float* x, const float* w, float bias, float* out, const ConvGeometry& g,
                          const DepthwiseRowsEpilogue& epi);

}  // namespace ember
