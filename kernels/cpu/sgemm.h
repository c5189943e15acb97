// float32 matrix product for the CPU convolution: C = A x B or C += A x B,
// each operand with any row and column strides (so transposes are free);
// B may also be given by where its rows start (OffsetRows), or be
// normalised by rows as it is packed (NormalizedRows).
// Packed panels and a 6x16 AVX2/FMA micro-kernel (6x32, 6x64 and 12x16
// tiles with AVX-512); see sgemm.cpp.
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

// What to do to each block of C as soon as it is final (every slice of K
// added), while it is still in cache: run(context, block, row_stride, row0,
// col0, rows, cols) for rows [row0, row0 + rows) and columns [col0, col0 +
// cols) of C, whose first element is at `block` (C's columns contiguous).
// A convolution's bias, batch norm and activation: done in a pass of its own
// after the product, they read the whole output back from memory.
struct SgemmEpilogue {
  void (*run)(const void* context, float* block, int64_t row_stride, int64_t row0, int64_t col0, int64_t rows,
              int64_t cols);
  const void* context;
};

// The epilogue that calls f(block, row_stride, row0, col0, rows, cols); f
// must outlive the product.
template <class F>
SgemmEpilogue sgemm_epilogue(const F& f) {
  return {[](const void* context, float* block, int64_t row_stride, int64_t row0, int64_t col0, int64_t rows,
             int64_t cols) { (*static_cast<const F*>(context))(block, row_stride, row0, col0, rows, cols); },
          &f};
}

// A K x N matrix whose row k starts at data + row_offsets[k], its columns
// contiguous: element (k, j) is data[row_offsets[k] + j]. A convolution's
// input, zero-padded (and split into phases by the stride), is this matrix
// for the product with the weights (conv2d.cpp): column j is output pixel j
// at the padded width, row k = (channel, tap) starts at that channel and
// tap's offset, so no im2col copy is made.
struct OffsetRows {
  const float* data;
  const int64_t* row_offsets;
};

// B normalised by rows as the product packs it, B's rows contiguous:
// element (k, j) is act(data[k * row_stride + j] * scale[k] + shift[k]),
// act a ReLU when `relu`, else nothing, computed as batch_norm_rows.h's
// clamp_row computes it (one fused multiply-add, then max(0, x)). A batch
// norm and ReLU in front of a 1x1 convolution (DenseNet's norm1, relu1 and
// conv1 at inference) then need no normalised copy of the input.
struct NormalizedRows {
  const float* data;
  int64_t row_stride;
  const float* scale;
  const float* shift;
  bool relu;
};

// True when this build has the AVX2/FMA kernel; callers use Eigen otherwise.
bool sgemm_available();

// c[M x N] = a[M x K] x b[K x N], or c += a x b when `accumulate`. Splits
// the work over the CPU threads when called outside a parallel region and
// the product is large enough to pay for them.
// With an epilogue (C's columns contiguous), each block of C goes through it
// once, when final.
void sgemm(int64_t M, int64_t N, int64_t K, FloatMatrix a, FloatMatrix b, MutableFloatMatrix c, bool accumulate,
           const SgemmEpilogue* epilogue = nullptr);

// The same product with B given by where its rows start.
void sgemm(int64_t M, int64_t N, int64_t K, FloatMatrix a, OffsetRows b, MutableFloatMatrix c, bool accumulate,
           const SgemmEpilogue* epilogue = nullptr);

// The same product with B normalised by rows (always packed).
void sgemm(int64_t M, int64_t N, int64_t K, FloatMatrix a, NormalizedRows b, MutableFloatMatrix c, bool accumulate,
           const SgemmEpilogue* epilogue = nullptr);

}  // namespace ember
