// Memory formats: how a 4-D [N, C, H, W] tensor is laid out in memory.
//
// As in PyTorch, the logical shape stays [N, C, H, W] and only the strides
// differ: Contiguous is NCHW (strides C*H*W, H*W, W, 1); ChannelsLast is NHWC
// (strides H*W*C, 1, W*C, C), the layout cuDNN's tensor-core convolutions
// and the CPU's GEMM convolutions prefer, since a pixel's channels are one
// contiguous run. A tensor's format is read off its strides, never stored.
//
// Tensors whose two layouts coincide in memory (C == 1, or H == W == 1) count
// as Contiguous: every kernel reads them the same way in either format.
#pragma once

#include <initializer_list>

#include "engine/shape.h"

namespace ember {

class Tensor;

enum class MemoryFormat : uint8_t {
  Contiguous,    // row-major in the logical dim order (NCHW for 4-D)
  ChannelsLast,  // NHWC for a 4-D tensor
  Preserve,      // keep the source's format (for copies and the *_like factories)
};

const char* memory_format_name(MemoryFormat format);

// The strides of a channels-last tensor of 4-D `shape`.
Shape channels_last_strides(const Shape& shape);
// The strides of a dense tensor of `shape` in `format` (Contiguous or ChannelsLast).
Shape strides_for(const Shape& shape, MemoryFormat format);

// ChannelsLast when `t` is a 4-D channels-last tensor whose layout differs
// from NCHW; Contiguous otherwise (whatever its strides).
MemoryFormat suggest_memory_format(const Tensor& t);
inline bool is_channels_last(const Tensor& t);

// True when the elements of `t` fill a block of memory with no gaps and no
// overlap, in some order of its dims: kernels may then walk it (and any
// tensor with the same strides) as one flat array.
bool is_non_overlapping_and_dense(const Tensor& t);

// True when every tensor has `first`'s shape and is dense with the same
// strides as it: element i of one sits at element i of the others' memory.
bool same_dense_layout(const Tensor& first, std::initializer_list<const Tensor*> others);

inline bool is_channels_last(const Tensor& t) { return suggest_memory_format(t) == MemoryFormat::ChannelsLast; }

}  // namespace ember
