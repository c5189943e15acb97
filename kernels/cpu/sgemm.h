// float32 matrix product for the CPU convolution: C = A x B or C += A x B,
// each operand with any row and column strides (so transposes are free).
// Packed panels and a 6x16 AVX2/FMA micro-kernel; see sgemm.cpp.
#pragma once

#include <cstdint>

namespace ember {

// Element (i, j) of a matrix is data[i * row_stride + j * col_stride].
struct FloatMatrix {
  const float* data;
  int64_t row_stride, col_stride;
  FloatMatrix transposed() const { return {data, col_stride, row_stride}; }
};

struct MutableFloatMatrix {
  float* data;
  int64_t row_stride, col_stride;
  MutableFloatMatrix transposed() const { return {data, col_stride, row_stride}; }
};

// True when this build has the AVX2/FMA kernel; callers use Eigen otherwise.
bool sgemm_available();

// c[M x N] = a[M x K] x b[K x N], or c += a x b when `accumulate`. Splits
// the work over the CPU threads when called outside a parallel region and
// the product is large enough to pay for them.
void sgemm(int64_t M, int64_t N, int64_t K, FloatMatrix a, FloatMatrix b, MutableFloatMatrix c, bool accumulate);

}  // namespace ember
