#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>

#include "engine/allocator.h"
#include "engine/error.h"

namespace ember {
namespace {

class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    size_t rounded = (nbytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded);
    if (!p) fail("cpu allocator", "out of host memory allocating ", nbytes, " bytes");
    int64_t now = allocated_.fetch_add(static_cast<int64_t>(nbytes)) + static_cast<int64_t>(nbytes);
    int64_t peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
    ++count_;
    return p;
  }
  void deallocate(void* ptr, size_t nbytes) override {
    if (!ptr) return;
    std::free(ptr);
    allocated_.fetch_sub(static_cast<int64_t>(nbytes));
  }
  AllocatorStats stats() const override {
    AllocatorStats s;
    s.allocated_bytes = allocated_.load();
    s.reserved_bytes = s.allocated_bytes;
    s.peak_allocated_bytes = peak_.load();
    s.num_allocs = count_.load();
    return s;
  }
  void reset_peak() override { peak_.store(allocated_.load()); }

 private:
  std::atomic<int64_t> allocated_{0}, peak_{0}, count_{0};
};

}  // namespace

Allocator& cpu_allocator() {
  static CpuAllocator* instance = new CpuAllocator();  // never destroyed: tensors may outlive statics
  return *instance;
}

}  // namespace ember
