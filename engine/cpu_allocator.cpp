// The host allocator: 64-byte aligned blocks, with a cache of freed large
// blocks.
//
// Why a cache: every op returns a fresh tensor, and glibc serves blocks of
// more than a few hundred KiB with mmap and gives them back with munmap on
// free. The next op's block is then new pages the kernel must fault in and
// zero, which cost MobileNetV2's batch-1 inference about a third of its time.
// Blocks of at least kMinCachedBytes are therefore kept on free and handed out
// again to requests they fit without wasting more than a quarter of
// themselves. The cache holds at most as much as the process has ever had
// live at once (at least 64 MiB): a training loop's next step fits in what
// its last one freed, while a stream of ever-different sizes (predicting on
// a folder of photos) cannot pile up dead blocks. Over that, a hard bound of
// a quarter of physical memory, at most 4 GiB (EMBER_CPU_CACHE_MB overrides
// it, 0 turns the cache off). Past the bound the oldest cached blocks go back
// to the system, and a failed allocation empties the cache and tries again.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <new>
#include <string>

#include "engine/allocator.h"
#include "engine/error.h"

namespace ember {
namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kMinCachedBytes = size_t{64} << 10;
constexpr size_t kPage = size_t{4} << 10;
constexpr size_t kMinCacheBound = size_t{64} << 20;

size_t default_cache_limit() {
  if (const char* env = std::getenv("EMBER_CPU_CACHE_MB")) {
    char* end = nullptr;
    unsigned long long mb = std::strtoull(env, &end, 10);
    if (end == env || *end != '\0') fail("cpu allocator", "EMBER_CPU_CACHE_MB must be a number of MiB, got '", env, "'");
    return static_cast<size_t>(mb) << 20;
  }
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  size_t physical = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : size_t{1} << 32;
  return std::min(physical / 4, size_t{4} << 30);
}

class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    const size_t block = block_size(nbytes);
    void* p = nullptr;
    if (block >= kMinCachedBytes) p = take_cached(block);
    if (!p) p = system_alloc(block);
    if (!p) {
      empty_cache();
      p = system_alloc(block);
    }
    if (!p) fail("cpu allocator", "out of host memory allocating ", nbytes, " bytes (", allocated_.load(), " allocated)");
    int64_t now = allocated_.fetch_add(static_cast<int64_t>(nbytes)) + static_cast<int64_t>(nbytes);
    for (std::atomic<int64_t>* mark : {&peak_, &high_water_}) {
      int64_t seen = mark->load();
      while (now > seen && !mark->compare_exchange_weak(seen, now)) {
      }
    }
    ++count_;
    return p;
  }

  void deallocate(void* ptr, size_t nbytes) override {
    if (!ptr) return;
    allocated_.fetch_sub(static_cast<int64_t>(nbytes));
    const size_t block = block_size(nbytes);
    if (block < kMinCachedBytes || block > limit_) {
      std::free(ptr);
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    // The requested size says which block this was only if the block came
    // from the system for this size; a reused block may be larger, so the
    // cache remembers every block's true size by address.
    auto it = block_of_.find(ptr);
    size_t size = it != block_of_.end() ? it->second : block;
    free_.emplace(size, ptr);
    order_.push_back(ptr);
    cached_ += size;
    const size_t bound = std::min(limit_, std::max(kMinCacheBound, static_cast<size_t>(high_water_.load())));
    while (cached_ > bound && !order_.empty()) release_oldest();
  }

  AllocatorStats stats() const override {
    AllocatorStats s;
    s.allocated_bytes = allocated_.load();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      s.reserved_bytes = s.allocated_bytes + static_cast<int64_t>(cached_);
    }
    s.peak_allocated_bytes = peak_.load();
    s.num_allocs = count_.load();
    return s;
  }
  void reset_peak() override { peak_.store(allocated_.load()); }

  void empty_cache() override {
    std::lock_guard<std::mutex> lock(mutex_);
    while (!order_.empty()) release_oldest();
  }

 private:
  // Small blocks round to the alignment, cached ones to whole pages (so a
  // block's size is a multiple of the page and reuse lines up).
  static size_t block_size(size_t nbytes) {
    size_t b = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
    return b >= kMinCachedBytes ? (b + kPage - 1) / kPage * kPage : b;
  }

  static void* system_alloc(size_t block) { return std::aligned_alloc(kAlignment, block); }

  // The smallest cached block that fits and wastes at most a quarter of itself.
  void* take_cached(size_t block) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.lower_bound(block);
    if (it == free_.end() || it->first - block > it->first / 4) {
      return nullptr;
    }
    void* p = it->second;
    cached_ -= it->first;
    block_of_[p] = it->first;
    free_.erase(it);
    order_.erase(std::find(order_.begin(), order_.end(), p));
    return p;
  }

  // Gives the longest-cached block back to the system (mutex held).
  void release_oldest() {
    void* p = order_.front();
    order_.pop_front();
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second == p) {
        cached_ -= it->first;
        free_.erase(it);
        break;
      }
    }
    block_of_.erase(p);
    std::free(p);
  }

  const size_t limit_ = default_cache_limit();
  std::atomic<int64_t> allocated_{0}, peak_{0}, count_{0};
  std::atomic<int64_t> high_water_{0};  // the most ever live at once (reset_peak leaves it)
  mutable std::mutex mutex_;
  std::multimap<size_t, void*> free_;  // cached blocks by size
  std::deque<void*> order_;            // cached blocks, oldest first
  std::map<void*, size_t> block_of_;   // true size of blocks handed out from the cache
  size_t cached_ = 0;
};

}  // namespace

Allocator& cpu_allocator() {
  static CpuAllocator* instance = new CpuAllocator();  // never destroyed: tensors may outlive statics
  return *instance;
}

}  // namespace ember
