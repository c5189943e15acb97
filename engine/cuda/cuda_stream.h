// Devices, streams and events of the CUDA layer.
//
// Every kernel and library call Ember makes goes on the *current stream* of
// its device. By default that is Ember's own stream for the device (created
// on first use with cudaStreamNonBlocking, so it never waits for the legacy
// default stream); a thread may switch it for a scope with StreamGuard. The
// current stream is per thread and per device, as in PyTorch.
//
//   CudaStream s(0);                      // a new non-blocking stream on cuda:0
//   { StreamGuard g(0, s.raw()); ... }    // ops in this scope run on s
//   CudaEvent start, stop;
//   start.record(current_stream(0)); ...; stop.record(current_stream(0));
//   stop.synchronize(); float ms = start.elapsed_ms(stop);
//
// DeviceGuard makes a device current for a scope (cudaSetDevice) and restores
// the previous one. All functions throw ember::Error on CUDA failures.
#pragma once

#include <cuda_runtime.h>

namespace ember {

inline constexpr int kMaxCudaDevices = 64;

// The device current for this thread (cudaGetDevice).
int current_cuda_device();

class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
  bool changed_ = false;
};

// Ember's own non-blocking stream of `device` (never destroyed).
cudaStream_t default_stream(int device);
// The stream ops on `device` run on in this thread.
cudaStream_t current_stream(int device);
// Makes `stream` current for `device` in this thread; nullptr restores Ember's default stream.
void set_current_stream(int device, cudaStream_t stream);

class StreamGuard {
 public:
  StreamGuard(int device, cudaStream_t stream);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  int device_;
  cudaStream_t previous_;
};

// An owned non-blocking stream on one device.
class CudaStream {
 public:
  explicit CudaStream(int device);
  ~CudaStream();
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;
  cudaStream_t raw() const { return stream_; }
  int device() const { return device_; }
  void synchronize() const;
  bool query() const;  // true when all work queued on it has finished

 private:
  int device_;
  cudaStream_t stream_ = nullptr;
};

// An owned event; with timing it can measure elapsed time between two records.
class CudaEvent {
 public:
  explicit CudaEvent(bool timing = true);
  ~CudaEvent();
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;
  cudaEvent_t raw() const { return event_; }
  void record(cudaStream_t stream);
  void synchronize() const;
  bool query() const;                    // true when the recorded work has finished
  void block(cudaStream_t stream) const;  // makes `stream` wait for this event
  // Milliseconds from this event to `end` (both recorded and completed).
  float elapsed_ms(const CudaEvent& end) const;

 private:
  cudaEvent_t event_ = nullptr;
};

}  // namespace ember
