// cuBLAS and cuDNN handles and the cuDNN workspace (see cublas_handle.h and
// cudnn_handle.h). Handles are thread-local and never destroyed: destroying
// them at exit can race with the CUDA runtime's own teardown.
#include <array>
#include <map>
#include <utility>

#include "engine/cuda/caching_allocator.h"
#include "engine/cuda/cublas_handle.h"
#include "engine/cuda/cuda_graph.h"
#include "engine/cuda/cuda_error.h"
#include "engine/cuda/cuda_stream.h"
#include "engine/cuda/cudnn_handle.h"

namespace ember {

const char* cublas_status_name(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "unknown cuBLAS status";
  }
}

cublasHandle_t cublas_handle(int device) {
  EMBER_CHECK(device >= 0 && device < kMaxCudaDevices, "cublas", "device index ", device, " out of range");
  thread_local std::array<cublasHandle_t, kMaxCudaDevices> handles{};
  if (!handles[device]) {
    DeviceGuard guard(device);
    cublasHandle_t h = nullptr;
    EMBER_CUBLAS_CHECK(cublasCreate(&h), "cublas");
    handles[device] = h;
  }
  EMBER_CUBLAS_CHECK(cublasSetStream(handles[device], current_stream(device)), "cublas");
  return handles[device];
}

cudnnHandle_t cudnn_handle(int device) {
  EMBER_CHECK(device >= 0 && device < kMaxCudaDevices, "cudnn", "device index ", device, " out of range");
  thread_local std::array<cudnnHandle_t, kMaxCudaDevices> handles{};
  if (!handles[device]) {
    DeviceGuard guard(device);
    cudnnHandle_t h = nullptr;
    EMBER_CUDNN_CHECK(cudnnCreate(&h), "cudnn");
    handles[device] = h;
  }
  EMBER_CUDNN_CHECK(cudnnSetStream(handles[device], current_stream(device)), "cudnn");
  return handles[device];
}

void* cudnn_workspace(int device, size_t nbytes) {
  if (nbytes == 0) return nullptr;
  // A graph being captured gets memory it owns: the buffers below may be
  // replaced while its replays still use them.
  if (CudaGraph::Capture* capture = active_capture(device)) return capture->workspace(nbytes);
  cudaStream_t stream = current_stream(device);
  // The buffers go back to the cache when their thread ends.
  thread_local std::map<std::pair<int, cudaStream_t>, DeviceBuffer> buffers;
  DeviceBuffer& buf = buffers[{device, stream}];
  if (buf.size() < nbytes) {
    buf = DeviceBuffer();  // free the old one first so the cache can reuse its memory
    buf = DeviceBuffer(device, nbytes);
  }
  return buf.get();
}

}  // namespace ember
