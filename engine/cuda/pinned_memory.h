// The pinned host allocator, which the CUDA backend hands to pin_memory()
// (engine/tensor.h) as its pinned_host_allocator(), and its hooks for the
// copy functions.
//
// Pinned (page-locked) host memory lets cudaMemcpyAsync run without staging,
// so a host-to-device copy from it returns at once and overlaps with
// kernels. The price: the host block must stay untouched until the copy has
// run. The copy functions therefore record an event for every asynchronous
// use of a pinned block, and a freed block is handed out again only once all
// its events have completed.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "engine/allocator.h"

namespace ember {

// Blocks from cudaHostAlloc, sized in powers of two (at least 4 KiB) and
// cached; empty_cache() returns the free ones whose copies have finished.
// Never destroyed: tensors may outlive statics.
Allocator& pinned_allocator();

// True when [ptr, ptr + nbytes) lies inside one block from pin_memory.
bool pinned_contains(const void* ptr, size_t nbytes);
// Records that work queued on `stream` (of `device`) uses the pinned block
// holding ptr; the block will not be reused before that work has finished.
void pinned_record_use(const void* ptr, int device, cudaStream_t stream);

}  // namespace ember
