// The caching device allocator; the design is described in caching_allocator.h.
#include "engine/cuda/caching_allocator.h"

#include <array>
#include <cstdio>
#include <functional>
#include <vector>

#include "engine/cuda/cuda_error.h"
#include "engine/cuda/cuda_memory.h"
#include "engine/cuda/cuda_stream.h"
#include "engine/device.h"

namespace ember {

namespace {

constexpr size_t kMinBlock = 512;                // every size rounds up to this
constexpr size_t kSmallRequest = size_t{1} << 20;  // up to 1 MiB: small pool
constexpr size_t kSmallSegment = size_t{2} << 20;  // the small pool grows by 2 MiB
constexpr size_t kMidRequest = size_t{10} << 20;   // 1-10 MiB requests share ...
constexpr size_t kMidSegment = size_t{20} << 20;   // ... 20 MiB segments
constexpr size_t kLargeRound = size_t{2} << 20;    // larger segments round to 2 MiB

size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

size_t segment_size(size_t size) {
  if (size <= kSmallRequest) return kSmallSegment;
  if (size < kMidRequest) return kMidSegment;
  return round_up(size, kLargeRound);
}

std::string format_bytes(int64_t n) {
  char buf[64];
  double v = static_cast<double>(n);
  if (v >= 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.2f GiB", v / (1024.0 * 1024 * 1024));
  else if (v >= 1024.0 * 1024) std::snprintf(buf, sizeof buf, "%.2f MiB", v / (1024.0 * 1024));
  else std::snprintf(buf, sizeof buf, "%.2f KiB", v / 1024.0);
  return buf;
}

}  // namespace

// A piece of a segment: free (in a pool) or handed out (in active_). The
// blocks of one segment form a list in address order, so a freed block can
// merge with its free neighbours.
struct CudaCachingAllocator::Block {
  void* ptr = nullptr;
  size_t size = 0;
  cudaStream_t stream = nullptr;
  uint64_t pool = 0;  // 0: the ordinary cache; otherwise a CUDA graph's private pool
  bool small = false;
  bool allocated = false;
  Block* prev = nullptr;
  Block* next = nullptr;
};

// Pools are ordered by (private pool, stream, size, address): lower_bound
// finds the smallest block of the pool and stream that fits.
bool CudaCachingAllocator::BlockLess::operator()(const Block* a, const Block* b) const {
  if (a->pool != b->pool) return a->pool < b->pool;
  auto sa = reinterpret_cast<uintptr_t>(a->stream), sb = reinterpret_cast<uintptr_t>(b->stream);
  if (sa != sb) return sa < sb;
  if (a->size != b->size) return a->size < b->size;
  return reinterpret_cast<uintptr_t>(a->ptr) < reinterpret_cast<uintptr_t>(b->ptr);
}

CudaCachingAllocator::CudaCachingAllocator(int device) : device_(device) {}

CudaCachingAllocator::~CudaCachingAllocator() {
  // Only reached if someone owns an allocator outside cuda_caching_allocator();
  // the memory goes back with the CUDA context.
  for (Block* b : small_free_) delete b;
  for (Block* b : large_free_) delete b;
  for (auto& [ptr, b] : active_) delete b;
}

void* CudaCachingAllocator::malloc_segment(size_t size, size_t requested) {
  DeviceGuard guard(device_);
  void* p = nullptr;
  // cudaMalloc is not a stream operation, so a capture would not record it;
  // CUDA therefore refuses it in a capturing thread unless the thread's mode
  // is relaxed. The segment is made now and belongs to the graph's pool.
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  EMBER_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode), "cuda allocator");
  cudaError_t err = cudaMalloc(&p, size);
  // cudaFree synchronises, which a capture forbids: no second try then.
  if (err == cudaErrorMemoryAllocation && capturing_.empty()) {
    cudaGetLastError();  // clear the error, give the cache back and try once more
    release_cached_segments();
    err = cudaMalloc(&p, size);
  }
  cudaThreadExchangeStreamCaptureMode(&mode);  // restore the thread's mode
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    cudaGetLastError();
    fail("cuda allocator", "out of memory on cuda:", device_, ": tried to allocate ",
         format_bytes(static_cast<int64_t>(requested)), " (", requested, " bytes); ", format_bytes(allocated_),
         " is allocated by tensors and ", format_bytes(reserved_), " reserved by Ember's caching allocator; the GPU has ",
         format_bytes(static_cast<int64_t>(free_bytes)), " free of ", format_bytes(static_cast<int64_t>(total_bytes)));
  }
  EMBER_CUDA_CHECK(err, "cuda allocator");
  reserved_ += static_cast<int64_t>(size);
  return p;
}

void* CudaCachingAllocator::allocate(size_t nbytes) {
  if (nbytes == 0) return nullptr;
  const size_t size = round_up(nbytes, kMinBlock);
  const bool small = size <= kSmallRequest;
  cudaStream_t stream = current_stream(device_);
  std::lock_guard<std::mutex> lock(mutex_);
  Pool& pool = small ? small_free_ : large_free_;
  auto capture = capturing_.find(stream);
  const uint64_t pool_id = capture == capturing_.end() ? 0 : capture->second;

  Block key;
  key.pool = pool_id;
  key.stream = stream;
  key.size = size;
  Block* block = nullptr;
  auto it = pool.lower_bound(&key);
  if (it != pool.end() && (*it)->pool == pool_id && (*it)->stream == stream) {
    block = *it;
    pool.erase(it);
  } else {
    size_t seg = segment_size(size);
    void* p = malloc_segment(seg, nbytes);
    block = new Block;
    block->ptr = p;
    block->size = seg;
    block->stream = stream;
    block->pool = pool_id;
    block->small = small;
  }

  // Split off the unused tail when it is worth keeping as a block of its own.
  const size_t rest = block->size - size;
  if ((small && rest >= kMinBlock) || (!small && rest > kSmallRequest)) {
    Block* tail = new Block;
    tail->ptr = static_cast<char*>(block->ptr) + size;
    tail->size = rest;
    tail->stream = stream;
    tail->pool = block->pool;
    tail->small = small;
    tail->prev = block;
    tail->next = block->next;
    if (block->next) block->next->prev = tail;
    block->next = tail;
    block->size = size;
    pool.insert(tail);
  }

  block->allocated = true;
  active_[block->ptr] = block;
  allocated_ += static_cast<int64_t>(block->size);
  if (allocated_ > peak_) peak_ = allocated_;
  ++num_allocs_;
  return block->ptr;
}

void CudaCachingAllocator::deallocate(void* ptr, size_t) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = active_.find(ptr);
  if (it == active_.end()) {
    // Called from destructors, so it cannot throw; a foreign pointer is a bug worth a message.
    std::fprintf(stderr, "ember: cuda allocator: freeing pointer %p that it did not allocate\n", ptr);
    return;
  }
  Block* block = it->second;
  active_.erase(it);
  block->allocated = false;
  allocated_ -= static_cast<int64_t>(block->size);
  Pool& pool = block->small ? small_free_ : large_free_;
  if (block->pool != 0 && released_pools_.contains(block->pool)) {  // its graph is gone
    block->pool = 0;
    block->stream = default_stream(device_);
  }

  if (Block* prev = block->prev; prev && !prev->allocated) {
    pool.erase(prev);
    block->ptr = prev->ptr;
    block->size += prev->size;
    block->prev = prev->prev;
    if (block->prev) block->prev->next = block;
    delete prev;
  }
  if (Block* next = block->next; next && !next->allocated) {
    pool.erase(next);
    block->size += next->size;
    block->next = next->next;
    if (block->next) block->next->prev = block;
    delete next;
  }
  pool.insert(block);
}

void CudaCachingAllocator::release_cached_segments() {
  DeviceGuard guard(device_);
  for (Pool* pool : {&small_free_, &large_free_}) {
    std::vector<Block*> whole;
    for (Block* b : *pool) {
      // A free block spanning its whole segment, unless a live graph's replays use it.
      if (!b->prev && !b->next && b->pool == 0) whole.push_back(b);
    }
    for (Block* b : whole) {
      pool->erase(b);
      cudaFree(b->ptr);  // synchronises with the device, so queued work that used it is done
      reserved_ -= static_cast<int64_t>(b->size);
      delete b;
    }
  }
}

void CudaCachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  // cudaFree inside a graph capture would invalidate it: while one is open
  // the cache stays, and a call after the capture empties it.
  if (!capturing_.empty()) return;
  release_cached_segments();
}

void CudaCachingAllocator::begin_private_pool(cudaStream_t stream, uint64_t pool) {
  EMBER_CHECK(pool != 0, "cuda allocator", "private pool ids start at 1");
  std::lock_guard<std::mutex> lock(mutex_);
  EMBER_CHECK(!capturing_.contains(stream), "cuda allocator", "a private pool is already open on this stream");
  capturing_[stream] = pool;
}

void CudaCachingAllocator::end_private_pool(cudaStream_t stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  capturing_.erase(stream);
}

void CudaCachingAllocator::release_pool(uint64_t pool) {
  std::lock_guard<std::mutex> lock(mutex_);
  released_pools_.insert(pool);
  for (Pool* free : {&small_free_, &large_free_}) {
    std::vector<Block*> moved;
    for (Block* b : *free) {
      if (b->pool == pool) moved.push_back(b);
    }
    // The keys are part of the ordering: take out, re-key, put back. The
    // blocks were keyed to the capture's stream, which dies with the graph;
    // the caller has waited for the replays, so any stream may have them.
    for (Block* b : moved) {
      free->erase(b);
      b->pool = 0;
      b->stream = default_stream(device_);
      free->insert(b);
    }
  }
}

AllocatorStats CudaCachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  AllocatorStats s;
  s.allocated_bytes = allocated_;
  s.reserved_bytes = reserved_;
  s.peak_allocated_bytes = peak_;
  s.num_allocs = num_allocs_;
  return s;
}

void CudaCachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  peak_ = allocated_;
}

CudaCachingAllocator& cuda_caching_allocator(int device) {
  EMBER_CHECK(device >= 0 && device < kMaxCudaDevices, "cuda allocator", "device index ", device, " out of range");
  static std::array<CudaCachingAllocator*, kMaxCudaDevices> allocators{};
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  if (!allocators[device]) allocators[device] = new CudaCachingAllocator(device);  // never destroyed
  return *allocators[device];
}

DeviceBuffer::DeviceBuffer(int device, size_t nbytes) : device_(device), nbytes_(nbytes) {
  ptr_ = cuda_caching_allocator(device).allocate(nbytes);
}

DeviceBuffer::~DeviceBuffer() { release(); }

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : device_(other.device_), ptr_(other.ptr_), nbytes_(other.nbytes_) {
  other.ptr_ = nullptr;
  other.nbytes_ = 0;
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    release();
    device_ = other.device_;
    ptr_ = other.ptr_;
    nbytes_ = other.nbytes_;
    other.ptr_ = nullptr;
    other.nbytes_ = 0;
  }
  return *this;
}

void DeviceBuffer::release() {
  if (ptr_) cuda_caching_allocator(device_).deallocate(ptr_, nbytes_);
  ptr_ = nullptr;
  nbytes_ = 0;
}

// --- Public API (cuda_memory.h) ---

namespace {
void check_device(int device, const char* op) {
  int count = cuda_device_count();
  if (count == 0) fail(op, "no CUDA device is present (no GPU, or no driver)");
  EMBER_CHECK(device >= 0 && device < count, op, "device cuda:", device, " does not exist (", count,
              " CUDA devices present)");
}
}  // namespace

AllocatorStats cuda_memory_stats(int device) {
  check_device(device, "cuda_memory_stats");
  return cuda_caching_allocator(device).stats();
}

void cuda_reset_peak_memory(int device) {
  check_device(device, "cuda_reset_peak_memory");
  cuda_caching_allocator(device).reset_peak();
}

void cuda_empty_cache(int device) {
  check_device(device, "cuda_empty_cache");
  cuda_caching_allocator(device).empty_cache();
}

}  // namespace ember
