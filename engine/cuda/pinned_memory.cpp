// The pinned host allocator (see pinned_memory.h).
#include "engine/cuda/pinned_memory.h"

#include <map>
#include <mutex>
#include <vector>

#include "engine/cuda/cuda_error.h"
#include "engine/cuda/cuda_memory.h"
#include "engine/cuda/cuda_stream.h"

namespace ember {
namespace {

class PinnedAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    size_t size = 4096;
    while (size < nbytes) size *= 2;
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = free_.lower_bound(size); it != free_.end() && it->first == size; ++it) {
      Block* b = it->second;
      if (!events_done(b)) continue;  // an asynchronous copy may still read or write it
      free_.erase(it);
      return hand_out(b);
    }
    void* p = nullptr;
    cudaError_t err = cudaHostAlloc(&p, size, cudaHostAllocPortable);
    if (err != cudaSuccess) {
      cudaGetLastError();
      fail("pin_memory", "cannot allocate ", size, " bytes of pinned host memory (", cudaGetErrorString(err),
           "); ", reserved_, " bytes are held by the pinned allocator");
    }
    Block* b = new Block;
    b->ptr = p;
    b->size = size;
    blocks_[reinterpret_cast<uintptr_t>(p)] = b;
    reserved_ += static_cast<int64_t>(size);
    return hand_out(b);
  }

  void deallocate(void* ptr, size_t) override {
    if (!ptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = blocks_.find(reinterpret_cast<uintptr_t>(ptr));
    if (it == blocks_.end() || !it->second->allocated) return;
    Block* b = it->second;
    b->allocated = false;
    allocated_ -= static_cast<int64_t>(b->size);
    free_.emplace(b->size, b);
  }

  AllocatorStats stats() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    AllocatorStats s;
    s.allocated_bytes = allocated_;
    s.reserved_bytes = reserved_;
    s.peak_allocated_bytes = peak_;
    s.num_allocs = num_allocs_;
    return s;
  }

  void reset_peak() override {
    std::lock_guard<std::mutex> lock(mutex_);
    peak_ = allocated_;
  }

  void empty_cache() override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = free_.begin(); it != free_.end();) {
      Block* b = it->second;
      if (!events_done(b)) {
        ++it;
        continue;
      }
      cudaFreeHost(b->ptr);
      cudaGetLastError();
      reserved_ -= static_cast<int64_t>(b->size);
      blocks_.erase(reinterpret_cast<uintptr_t>(b->ptr));
      delete b;
      it = free_.erase(it);
    }
  }

  bool contains(const void* ptr, size_t nbytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    return find(ptr, nbytes) != nullptr;
  }

  void record_use(const void* ptr, int device, cudaStream_t stream) {
    std::lock_guard<std::mutex> lock(mutex_);
    Block* b = find(ptr, 1);
    if (!b) return;
    DeviceGuard guard(device);  // an event is recorded on a stream of the device it was created on
    // A pinned buffer that stays alive and is copied every step would
    // otherwise gather one event per copy.
    drop_finished(b);
    cudaEvent_t e = nullptr;
    EMBER_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "pinned memory");
    b->events.push_back(e);
    EMBER_CUDA_CHECK(cudaEventRecord(e, stream), "pinned memory");
  }

 private:
  struct Block {
    void* ptr = nullptr;
    size_t size = 0;
    bool allocated = false;
    std::vector<cudaEvent_t> events;  // copies that may still use the block
  };

  void* hand_out(Block* b) {
    b->allocated = true;
    allocated_ += static_cast<int64_t>(b->size);
    if (allocated_ > peak_) peak_ = allocated_;
    ++num_allocs_;
    return b->ptr;
  }

  // Destroys the events of finished uses.
  static void drop_finished(Block* b) {
    std::erase_if(b->events, [](cudaEvent_t e) {
      if (cudaEventQuery(e) == cudaErrorNotReady) return false;
      cudaGetLastError();  // an error of a failed copy surfaces elsewhere; do not leave it pending
      cudaEventDestroy(e);
      return true;
    });
  }

  // True when every recorded use has finished (finished events are dropped).
  static bool events_done(Block* b) {
    drop_finished(b);
    return b->events.empty();
  }

  Block* find(const void* ptr, size_t nbytes) const {
    auto p = reinterpret_cast<uintptr_t>(ptr);
    auto it = blocks_.upper_bound(p);
    if (it == blocks_.begin()) return nullptr;
    --it;
    Block* b = it->second;
    if (p + nbytes > it->first + b->size) return nullptr;
    return b;
  }

  mutable std::mutex mutex_;
  std::map<uintptr_t, Block*> blocks_;   // every block, by address
  std::multimap<size_t, Block*> free_;  // free blocks, by size
  int64_t allocated_ = 0, reserved_ = 0, peak_ = 0, num_allocs_ = 0;
};

PinnedAllocator& instance() {
  static PinnedAllocator* allocator = new PinnedAllocator();
  return *allocator;
}

}  // namespace

Allocator& pinned_allocator() { return instance(); }

bool pinned_contains(const void* ptr, size_t nbytes) { return instance().contains(ptr, nbytes); }

void pinned_record_use(const void* ptr, int device, cudaStream_t stream) {
  instance().record_use(ptr, device, stream);
}

AllocatorStats pinned_memory_stats() { return instance().stats(); }

}  // namespace ember
