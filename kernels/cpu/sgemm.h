// float32 matrix product for the CPU convolution: C = A x B or C += A x B,
// each operand with any row and column strides (so transposes are free).
// Packed panels and a 6x16 AVX2/FMA micro-kernel; see sgemm.cpp.
#pragma once

#include <cstdint>

namespace ember {

// A matrix in memory: element (i, j) is data[i * row_stride + j * col_stride],
// so a transpose is the same memory with the two strides swapped.
template <class T>
struct MatrixView {
  T* data;
  int64_t row_stride, col_stride;
};
using FloatMatrix = MatrixView<const float>;
using MutableFloatMatrix = MatrixView<float>;

// True when this build has the AVX2/FMA kernel; callers use Eigen otherwise.
bool sgemm_available();

// c[M x N] = a[M x K] x b[K x N], or c += a x b when `accumulate`. Splits
// the work over the CPU threads when called outside a parallel region and
// the product is large enough to pay for them.
void sgemm(int64_t M, int64_t N, int64_t K, FloatMatrix a, FloatMatrix b, MutableFloatMatrix c, bool accumulate);

}  // namespace ember
