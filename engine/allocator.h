// The interface every device's memory allocator implements. The CPU one hands
// out 64-byte aligned blocks (AVX-512 loads never straddle) and caches freed
// blocks of 64 KiB and more (engine/cpu_allocator.cpp); the CUDA one is a
// caching allocator (engine/cuda). Storage calls these; nothing else should.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ember {

struct AllocatorStats {
  int64_t allocated_bytes = 0;  // held by live tensors
  int64_t reserved_bytes = 0;   // held from the system (allocated + cached)
  int64_t peak_allocated_bytes = 0;
  int64_t num_allocs = 0;
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* ptr, size_t nbytes) = 0;
  virtual AllocatorStats stats() const { return {}; }
  virtual void reset_peak() {}
  virtual void empty_cache() {}
};

// The process-wide host allocator (aligned, counts bytes for statistics).
Allocator& cpu_allocator();

}  // namespace ember
