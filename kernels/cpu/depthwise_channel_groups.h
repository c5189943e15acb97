// Depthwise convolution of small float32 maps, eight channels at a time
// (depthwise_conv2d.cpp calls it). On a 7x7 or 14x14 map a row is shorter
// than two AVX2 vectors, so the plane-at-a-time kernels leave most lanes
// idle; eight channels side by side fill every lane at any map size:
//
//   1. the eight input planes are transposed, eight pixels at a time, into a
//      zero-bordered scratch plane whose pixels hold their eight channels'
//      values (the padding made real, as in the plane kernels);
//   2. each output pixel is one 8-lane register: bias, then a fused
//      multiply-add per tap, in tap order, with the eight channels' weights
//      for that tap (so each channel's value is the one the plane kernels
//      compute, to the bit); a batch norm and a ReLU or ReLU6 are applied
//      in the register before it is stored;
//   3. the results are transposed back into the eight output planes.
//
// Launch shape: one call per (sample, group of eight channels), threads over
// those calls. Bytes per output element: the input read once from memory
// (4 * stride^2 bytes) and its scratch copy K*K times from L1; the output
// written once. Flops: 2*K*K per output element.
#pragma once

#include <cstdint>

#include "kernels/cpu/conv_geometry.h"
#include "kernels/cpu/register_epilogue.h"

namespace ember {

// True where depthwise_channel_group can run g (AVX2/FMA build, one output
// channel per input channel, a square 3x3 or 5x5 kernel at stride 1 or 2,
// no dilation).
bool depthwise_channel_groups_available(const ConvGeometry& g);

// Scratch floats the kernel needs per thread; its border must be zero on the
// first call, and stays zero.
int64_t depthwise_channel_group_scratch(const ConvGeometry& g);

// Output planes [oc0, oc0 + 8) of one sample: x points at input plane oc0,
// y at output plane oc0, w at channel oc0's weights, bias at its bias (or
// null); epi's scales and shifts at channel oc0's, applied to each output
// pixel's register before it is stored.
void depthwise_channel_group(const float* x, const float* w, const float* bias, const RegisterEpilogue& epi,
                             float* y, const ConvGeometry& g, float* scratch);

}  // namespace ember
