// The cuDNN handle of a device, bound to the current stream; the cuDNN
// workspace; and the check macro for cuDNN calls.
//
// Handles are per thread and per device (cuDNN handles are not thread-safe),
// created on first use and kept for the life of the process. The workspace
// is one growing buffer per (thread, device, stream) from the caching
// allocator: a convolution asks for the bytes its algorithm needs and gets a
// buffer at least that large, valid until the next request on that stream.
#pragma once

#include <cudnn.h>

#include <cstddef>

#include "engine/error.h"

namespace ember {

// The handle for `device`, with its stream set to current_stream(device).
cudnnHandle_t cudnn_handle(int device);

// A workspace of at least `nbytes` on `device` for work on its current stream
// (nullptr for 0 bytes). Throws the allocator's out-of-memory error if it cannot grow.
void* cudnn_workspace(int device, size_t nbytes);

}  // namespace ember

#define EMBER_CUDNN_CHECK(call, op)                                                \
  do {                                                                             \
    cudnnStatus_t ember_st_ = (call);                                              \
    if (ember_st_ != CUDNN_STATUS_SUCCESS) {                                       \
      ::ember::fail(op, "cuDNN error ", cudnnGetErrorString(ember_st_));           \
    }                                                                              \
  } while (0)
