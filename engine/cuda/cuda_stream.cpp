// Current device and stream bookkeeping; see cuda_stream.h.
#include "engine/cuda/cuda_stream.h"

#include <array>
#include <mutex>

#include "engine/cuda/cuda_error.h"

namespace ember {
namespace {

void check_device_index(int device, const char* op) {
  EMBER_CHECK(device >= 0 && device < kMaxCudaDevices, op, "device index ", device, " out of range");
}

// nullptr means "Ember's default stream of that device".
thread_local std::array<cudaStream_t, kMaxCudaDevices> tls_current_stream{};

}  // namespace

int current_cuda_device() {
  int device = 0;
  EMBER_CUDA_CHECK(cudaGetDevice(&device), "cuda device");
  return device;
}

DeviceGuard::DeviceGuard(int device) {
  check_device_index(device, "cuda device");
  previous_ = current_cuda_device();
  if (previous_ != device) {
    EMBER_CUDA_CHECK(cudaSetDevice(device), "cuda device");
    changed_ = true;
  }
}

DeviceGuard::~DeviceGuard() {
  if (changed_) cudaSetDevice(previous_);  // a destructor must not throw
}

cudaStream_t default_stream(int device) {
  check_device_index(device, "cuda stream");
  static std::array<cudaStream_t, kMaxCudaDevices> streams{};
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  if (!streams[device]) {
    DeviceGuard guard(device);
    cudaStream_t s = nullptr;
    EMBER_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cuda stream");
    streams[device] = s;  // never destroyed: kernels may run until the process ends
  }
  return streams[device];
}

cudaStream_t current_stream(int device) {
  check_device_index(device, "cuda stream");
  cudaStream_t s = tls_current_stream[device];
  return s ? s : default_stream(device);
}

void set_current_stream(int device, cudaStream_t stream) {
  check_device_index(device, "cuda stream");
  tls_current_stream[device] = stream;
}

StreamGuard::StreamGuard(int device, cudaStream_t stream) : device_(device) {
  check_device_index(device, "cuda stream");
  previous_ = tls_current_stream[device];
  tls_current_stream[device] = stream;
}

StreamGuard::~StreamGuard() { tls_current_stream[device_] = previous_; }

CudaStream::CudaStream(int device) : device_(device) {
  DeviceGuard guard(device);
  EMBER_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cuda stream");
}

CudaStream::~CudaStream() {
  if (stream_) cudaStreamDestroy(stream_);
}

void CudaStream::synchronize() const { EMBER_CUDA_CHECK(cudaStreamSynchronize(stream_), "cuda stream synchronize"); }

bool CudaStream::query() const {
  cudaError_t err = cudaStreamQuery(stream_);
  if (err == cudaErrorNotReady) return false;
  EMBER_CUDA_CHECK(err, "cuda stream query");
  return true;
}

CudaEvent::CudaEvent(bool timing) {
  EMBER_CUDA_CHECK(cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming),
                   "cuda event");
}

CudaEvent::~CudaEvent() {
  if (event_) cudaEventDestroy(event_);
}

void CudaEvent::record(cudaStream_t stream) { EMBER_CUDA_CHECK(cudaEventRecord(event_, stream), "cuda event record"); }

void CudaEvent::synchronize() const { EMBER_CUDA_CHECK(cudaEventSynchronize(event_), "cuda event synchronize"); }

bool CudaEvent::query() const {
  cudaError_t err = cudaEventQuery(event_);
  if (err == cudaErrorNotReady) return false;
  EMBER_CUDA_CHECK(err, "cuda event query");
  return true;
}

void CudaEvent::block(cudaStream_t stream) const {
  EMBER_CUDA_CHECK(cudaStreamWaitEvent(stream, event_, 0), "cuda event wait");
}

float CudaEvent::elapsed_ms(const CudaEvent& end) const {
  float ms = 0;
  EMBER_CUDA_CHECK(cudaEventElapsedTime(&ms, event_, end.event_), "cuda event elapsed time");
  return ms;
}

}  // namespace ember
