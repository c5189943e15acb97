// The public API of Ember's CUDA memory statistics, callable from any build:
//   cuda_memory_stats(0)   allocated / reserved / peak bytes and allocation
//                          count of the caching allocator of cuda:0
//   cuda_reset_peak_memory(0), cuda_empty_cache(0)
//   pinned_memory_stats()  the same for the pinned host allocator behind
//                          pin_memory() (engine/tensor.h)
// In a build without CUDA the device functions throw "built without CUDA"
// and the pinned statistics are all zero.
#pragma once

#include "engine/allocator.h"
#include "engine/error.h"

namespace ember {

#ifdef EMBER_WITH_CUDA
AllocatorStats cuda_memory_stats(int device = 0);
void cuda_reset_peak_memory(int device = 0);
void cuda_empty_cache(int device = 0);
// Statistics of the pinned host allocator (bytes in pinned tensors, bytes held).
AllocatorStats pinned_memory_stats();
#else
[[noreturn]] inline void cuda_memory_unavailable(const char* op) {
  fail(op, "this Ember was built without CUDA");
}
inline AllocatorStats cuda_memory_stats(int = 0) { cuda_memory_unavailable("cuda_memory_stats"); }
inline void cuda_reset_peak_memory(int = 0) { cuda_memory_unavailable("cuda_reset_peak_memory"); }
inline void cuda_empty_cache(int = 0) { cuda_memory_unavailable("cuda_empty_cache"); }
inline AllocatorStats pinned_memory_stats() { return {}; }
#endif

}  // namespace ember
