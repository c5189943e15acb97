// Sigmoid, SiLU and SiLU's gradient over a contiguous span of float32,
// vectorised with a short exp for arguments in [-87, 0] (within a few ulp
// of libm), for the elementwise kernels and for batch norm's fused SiLU
// epilogue. Each may run in place (y equal to x).
#pragma once

#include <cstdint>

namespace ember {

void sigmoid_span(const float* x, float* y, int64_t n);
void silu_span(const float* x, float* y, int64_t n);
// y = g * s * (1 + x * (1 - s)), s = sigmoid(x).
void silu_backward_span(const float* g, const float* x, float* y, int64_t n);

}  // namespace ember
