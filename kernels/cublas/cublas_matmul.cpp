// The CUDA backend's batched matrix product with cuBLAS:
//   out[b] = a[b] @ b[b],  a [B, M, K], b [B, K, N], out [B, M, N] contiguous,
// where each operand matrix is row- or column-major and its batch stride may
// be anything, including 0 (one matrix broadcast over the batch).
// cuBLAS is column-major; a row-major C = A B is the column-major
// C^T = B^T A^T, so one cublasGemmStridedBatchedEx computes C^T (N x M,
// leading dimension N) from b as the first operand and a as the second; an
// operand stored column-major is passed transposed instead of copied.
// Types: float32 (FP32 math; TF32 tensor cores only with
// backend_config().allow_tf32), float64, float16 and bfloat16 (tensor cores,
// float accumulation and scaling factors).
#include <climits>

#include "engine/backend_config.h"
#include "engine/cuda/cublas_handle.h"
#include "engine/cuda/cuda_error.h"
#include "engine/cuda/cuda_stream.h"
#include "kernels/cuda/cuda_backend.h"

namespace ember {
namespace {

// How cuBLAS reads a [rows, cols] matrix with element strides (rs, cs).
struct MatrixLayout {
  bool row_major;
  int64_t ld;  // cuBLAS leading dimension
};

MatrixLayout layout_of(int64_t rows, int64_t cols, int64_t rs, int64_t cs, const char* name) {
  // Row-major: element (r, c) at r * rs + c; the leading dimension must be >= cols.
  if ((cs == 1 || cols == 1) && (rows == 1 || rs >= std::max<int64_t>(cols, 1))) {
    return {true, rows == 1 ? std::max<int64_t>(cols, 1) : rs};
  }
  // Column-major: element (r, c) at r + c * cs; the leading dimension must be >= rows.
  if ((rs == 1 || rows == 1) && (cols == 1 || cs >= std::max<int64_t>(rows, 1))) {
    return {false, cols == 1 ? std::max<int64_t>(rows, 1) : cs};
  }
  fail("matmul", "operand ", name, " of shape [", rows, ", ", cols, "] with strides [", rs, ", ", cs,
       "] is neither row- nor column-major");
}

int as_int(int64_t v, const char* what) {
  EMBER_CHECK(v >= 0 && v <= INT_MAX, "matmul", what, " ", v, " exceeds cuBLAS's 32-bit limit");
  return static_cast<int>(v);
}

}  // namespace

void CudaBackend::matmul(const Tensor& out, const Tensor& a, const Tensor& b) {
  const int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  EMBER_CHECK(a.dtype() == b.dtype() && a.dtype() == out.dtype(), "matmul", "operands and output must share a dtype");
  if (B * M * N == 0) return;
  const int device = out.device().index;
  DeviceGuard guard(device);
  if (K == 0) {
    EMBER_CUDA_CHECK(cudaMemsetAsync(out.data_ptr(), 0, static_cast<size_t>(out.numel()) * out.element_size(),
                                     current_stream(device)),
                     "matmul");
    return;
  }
  const MatrixLayout la = layout_of(M, K, a.stride(1), a.stride(2), "a");
  const MatrixLayout lb = layout_of(K, N, b.stride(1), b.stride(2), "b");

  cudaDataType_t type;
  cublasComputeType_t compute;
  const float one_f = 1.0f, zero_f = 0.0f;
  const double one_d = 1.0, zero_d = 0.0;
  const void* alpha = &one_f;
  const void* beta = &zero_f;
  switch (out.dtype()) {
    case DType::Float32:
      type = CUDA_R_32F;
      compute = backend_config().allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
      break;
    case DType::Float64:
      type = CUDA_R_64F;
      compute = CUBLAS_COMPUTE_64F;
      alpha = &one_d;
      beta = &zero_d;
      break;
    case DType::Float16:
      type = CUDA_R_16F;
      compute = CUBLAS_COMPUTE_32F;
      break;
    case DType::BFloat16:
      type = CUDA_R_16BF;
      compute = CUBLAS_COMPUTE_32F;
      break;
    default: fail("matmul", "supports float32, float64, float16 and bfloat16 on CUDA, got ", dtype_name(out.dtype()));
  }

  // Column-major C^T [N, M] = op(b) [N, K] * op(a) [K, M].
  // b row-major is already b^T in column-major terms (no transpose); col-major needs one.
  // Likewise a row-major is a^T column-major.
  const cublasOperation_t op_b = lb.row_major ? CUBLAS_OP_N : CUBLAS_OP_T;
  const cublasOperation_t op_a = la.row_major ? CUBLAS_OP_N : CUBLAS_OP_T;
  cublasHandle_t handle = cublas_handle(device);
  EMBER_CUBLAS_CHECK(cublasGemmStridedBatchedEx(handle, op_b, op_a, as_int(N, "N"), as_int(M, "M"), as_int(K, "K"),
                                                alpha, b.data_ptr(), type, as_int(lb.ld, "leading dimension"),
                                                b.stride(0), a.data_ptr(), type, as_int(la.ld, "leading dimension"),
                                                a.stride(0), beta, out.data_ptr(), type, as_int(N, "N"), M * N,
                                                as_int(B, "batch"), compute, CUBLAS_GEMM_DEFAULT),
                     "matmul");
}

}  // namespace ember
