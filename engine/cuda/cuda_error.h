// Error checks for CUDA runtime calls and kernel launches, shared by the
// engine's CUDA layer (allocator, streams, handles) and the kernels: every
// failure becomes an ember::Error naming the op and CUDA's own message, e.g.
//   "conv2d: CUDA error cudaErrorIllegalAddress (an illegal memory access was encountered)"
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "engine/error.h"

namespace ember {

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* op, const std::string& context) {
  fail(op, "CUDA error ", cudaGetErrorName(err), " (", cudaGetErrorString(err), ")",
       context.empty() ? std::string() : " " + context);
}

}  // namespace ember

// EMBER_CUDA_CHECK(cudaMalloc(...), "op"): throws on any error.
#define EMBER_CUDA_CHECK(call, op)                                                \
  do {                                                                            \
    cudaError_t ember_err_ = (call);                                              \
    if (ember_err_ != cudaSuccess) ::ember::throw_cuda_error(ember_err_, op, ""); \
  } while (0)

// After a kernel launch: reports launch errors (bad configuration, no kernel
// image for this GPU) with the op name and a description of the shapes. The
// shapes expression is only evaluated when the launch failed.
#define EMBER_CUDA_CHECK_LAUNCH(op, shapes)                                           \
  do {                                                                                \
    cudaError_t ember_err_ = cudaGetLastError();                                      \
    if (ember_err_ != cudaSuccess) ::ember::throw_cuda_error(ember_err_, op, shapes); \
  } while (0)
