// The iteration space shared by the CPU and CUDA elementwise loops: N
// operands of one shape (operand 0 the output), each with its own strides
// (0 on a broadcast dim).
//
// Dims of size 1 are dropped and the rest are walked in the output's memory
// order (largest stride first), so a channels-last output is visited NHWC
// with its channels as the inner run. Neighbouring dims that are contiguous
// with each other in every operand are then merged: operands laid out
// alike, NCHW or NHWC, become one dim (the CUDA flat kernel's vectorised
// case), and a per-channel operand broadcast over an NHWC output stays one
// short inner dim.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace ember {

template <size_t N>
struct ElementwiseDims {
  std::vector<int64_t> sizes;                   // outermost first; empty for a single element
  std::vector<std::array<int64_t, N>> strides;  // per dim, per operand, in elements
};

template <size_t N>
ElementwiseDims<N> elementwise_dims(const std::array<const Tensor*, N>& operands) {
  const Shape& shape = operands[0]->shape();
  std::vector<size_t> order;
  for (size_t d = 0; d < shape.size(); ++d)
    if (shape[d] != 1) order.push_back(d);
  const Shape& out_strides = operands[0]->strides();
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return out_strides[x] > out_strides[y]; });
  ElementwiseDims<N> dims;
  for (size_t d : order) {
    std::array<int64_t, N> s;
    for (size_t k = 0; k < N; ++k) s[k] = operands[k]->strides()[d];
    if (!dims.sizes.empty()) {
      bool mergeable = true;
      for (size_t k = 0; k < N; ++k) mergeable = mergeable && dims.strides.back()[k] == s[k] * shape[d];
      if (mergeable) {
        dims.sizes.back() *= shape[d];
        dims.strides.back() = s;
        continue;
      }
    }
    dims.sizes.push_back(shape[d]);
    dims.strides.push_back(s);
  }
  return dims;
}

}  // namespace ember
