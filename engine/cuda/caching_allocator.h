// The caching allocator for CUDA device memory (one per device).
//
// cudaMalloc and cudaFree are slow and synchronise the device, so freed
// blocks are kept and handed out again instead of being returned:
// - Sizes round up to 512 bytes. Requests up to 1 MiB come from a small pool
//   that grows by 2 MiB segments; larger ones from a large pool whose
//   segments are 20 MiB (for requests under 10 MiB) or the request rounded up
//   to 2 MiB. A cached block larger than needed is split; a freed block
//   merges with free neighbours of its segment.
// - Blocks belong to the stream that was current when they were allocated and
//   are reused only for allocations on that stream. Work on one stream runs
//   in order, so a block freed while kernels that use it are still queued can
//   be given to the next allocation on that stream without waiting.
//   (A tensor used on another stream must be synchronised by the user.)
// - When cudaMalloc fails, the cache is emptied and the call retried once;
//   then an ember::Error says how much was asked for and how much is
//   allocated and reserved on which device.
// - While a CUDA graph is captured (engine/cuda/cuda_graph.h), allocations on
//   the capturing stream come from that graph's private pool: segments of
//   their own, whose freed blocks are reused only by the same capture. The
//   graph's replays read and write those addresses, so no other allocation may
//   take them while the graph lives; release_pool() hands them back to the
//   ordinary cache when it is destroyed. empty_cache() never frees a live
//   private pool's segments.
// Statistics count rounded block sizes: allocated (held by tensors), reserved
// (segments held from the driver), peak allocated, and the number of allocations.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>

#include "engine/allocator.h"

namespace ember {

class CudaCachingAllocator final : public Allocator {
 public:
  explicit CudaCachingAllocator(int device);
  ~CudaCachingAllocator() override;
  void* allocate(size_t nbytes) override;
  void deallocate(void* ptr, size_t nbytes) override;
  AllocatorStats stats() const override;
  void reset_peak() override;
  // Returns every cached segment with no block in use to the driver.
  void empty_cache() override;
  int device() const { return device_; }

  // From now on, allocations on `stream` come from private pool `pool` (> 0).
  void begin_private_pool(cudaStream_t stream, uint64_t pool);
  // Allocations on `stream` come from the ordinary cache again.
  void end_private_pool(cudaStream_t stream);
  // The graph owning `pool` is gone and its replays have finished: its free
  // blocks join the ordinary cache (on the device's default stream) now, and
  // its blocks still held by tensors when they are freed.
  void release_pool(uint64_t pool);

  struct Block;

 private:
  struct BlockLess {
    bool operator()(const Block* a, const Block* b) const;
  };
  using Pool = std::set<Block*, BlockLess>;

  void* malloc_segment(size_t size, size_t requested);
  void release_cached_segments();  // caller holds mutex_

  int device_;
  mutable std::mutex mutex_;
  Pool small_free_, large_free_;
  std::unordered_map<void*, Block*> active_;
  std::map<cudaStream_t, uint64_t> capturing_;  // stream -> private pool being filled
  std::set<uint64_t> released_pools_;
  int64_t allocated_ = 0, reserved_ = 0, peak_ = 0, num_allocs_ = 0;
};

// The allocator of `device` (created on first use, never destroyed).
CudaCachingAllocator& cuda_caching_allocator(int device);

// Scratch device memory for the duration of one call (partial sums, library
// workspaces), returned to the cache when the buffer goes out of scope. It
// belongs to the current stream, like any allocation.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(int device, size_t nbytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return ptr_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t size() const { return nbytes_; }

 private:
  void release();
  int device_ = 0;
  void* ptr_ = nullptr;
  size_t nbytes_ = 0;
};

}  // namespace ember
