// The matrix product behind the CPU convolutions (NCHW and channels-last).
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <type_traits>

#include "kernels/cpu/sgemm.h"

namespace ember {

template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// c[M x N] (+)= a[M x K] x b[K x N]. float32 goes to sgemm.cpp's kernel when
// the product fills at least one 6x16 tile; float64 (the gradient checks),
// narrower products (a squeeze-excitation's 1x1 maps: matrix-vector work,
// which sgemm would pad to 16 columns) and builds without AVX2 go to Eigen.
template <class T>
void gemm(int64_t M, int64_t N, int64_t K, MatrixView<const T> a, MatrixView<const T> b, MatrixView<T> c,
          bool accumulate) {
  if constexpr (std::is_same_v<T, float>) {
    if (sgemm_available() && M >= 6 && N >= 16) return sgemm(M, N, K, a, b, c, accumulate);
  }
  using Strides = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;  // (row stride, column stride) for row-major
  Eigen::Map<const RowMat<T>, 0, Strides> am(a.data, M, K, Strides(a.row_stride, a.col_stride));
  Eigen::Map<const RowMat<T>, 0, Strides> bm(b.data, K, N, Strides(b.row_stride, b.col_stride));
  Eigen::Map<RowMat<T>, 0, Strides> cm(c.data, M, N, Strides(c.row_stride, c.col_stride));
  if (accumulate) {
    cm.noalias() += am * bm;
  } else {
    cm.noalias() = am * bm;
  }
}

}  // namespace ember
