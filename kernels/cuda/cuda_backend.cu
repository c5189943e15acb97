// The CUDA backend object: device discovery, allocators, synchronisation.
// No kernels here; see cuda_backend.h for where each op family lives.
#include <array>
#include <atomic>

#include "engine/cuda/caching_allocator.h"
#include "engine/cuda/cuda_graph.h"
#include "engine/cuda/cuda_stream.h"
#include "engine/cuda/pinned_memory.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_types.cuh"

namespace ember {

int CudaBackend::device_count() const {
  // Asked once: without a driver cudaGetDeviceCount fails ("driver version is
  // insufficient"), which means no GPU for Ember, not an error.
  static const int count = [] {
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return n < 0 ? 0 : (n > kMaxCudaDevices ? kMaxCudaDevices : n);
  }();
  return count;
}

Allocator& CudaBackend::allocator(Device device) { return cuda_caching_allocator(device.index); }

Allocator* CudaBackend::pinned_host_allocator() { return &pinned_allocator(); }

void CudaBackend::synchronize(Device device) {
  DeviceGuard guard(device.index);
  EMBER_CUDA_CHECK(cudaDeviceSynchronize(), "synchronize");
}

int sm_count(int device) {
  static std::array<std::atomic<int>, kMaxCudaDevices> counts{};
  int n = counts[device].load(std::memory_order_relaxed);
  if (n == 0) {
    EMBER_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device), "cuda device");
    counts[device].store(n, std::memory_order_relaxed);
  }
  return n;
}

std::unique_ptr<DeviceGraph> CudaBackend::capture_graph(Device device, const std::function<void()>& fn) {
  return std::make_unique<CudaGraph>(device.index, fn);
}

bool CudaBackend::capturing(Device device) const { return active_capture(device.index) != nullptr; }

Backend* cuda_backend_or_null() {
  static CudaBackend* instance = new CudaBackend();  // never destroyed: storages may outlive statics
  return instance;
}

}  // namespace ember
