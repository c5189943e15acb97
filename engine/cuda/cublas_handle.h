// The cuBLAS handle of a device, bound to the current stream, and the check
// macro for cuBLAS calls. Handles are per thread and per device (a cuBLAS
// handle must not be used by two threads at once), created on first use and
// kept for the life of the process.
#pragma once

#include <cublas_v2.h>

#include "engine/error.h"

namespace ember {

// The handle for `device`, with its stream set to current_stream(device).
cublasHandle_t cublas_handle(int device);

const char* cublas_status_name(cublasStatus_t status);

}  // namespace ember

#define EMBER_CUBLAS_CHECK(call, op)                                                          \
  do {                                                                                        \
    cublasStatus_t ember_st_ = (call);                                                        \
    if (ember_st_ != CUBLAS_STATUS_SUCCESS) {                                                 \
      ::ember::fail(op, "cuBLAS error ", ::ember::cublas_status_name(ember_st_));            \
    }                                                                                         \
  } while (0)
