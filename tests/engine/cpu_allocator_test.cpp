// The host allocator's cache: freed large blocks are handed out again, the
// statistics count them right, empty_cache gives them back, and a training-
// like loop neither leaks nor grows.
#include <gtest/gtest.h>

#include <cstdint>

#include "engine/allocator.h"
#include "engine/ember.h"

using namespace ember;

TEST(CpuAllocator, LargeBlocksAreReusedAndCounted) {
  Allocator& a = cpu_allocator();
  a.empty_cache();
  const AllocatorStats before = a.stats();
  const size_t big = size_t{3} << 20;  // 3 MiB: served by mmap without the cache
  void* p = a.allocate(big);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  EXPECT_EQ(a.stats().allocated_bytes - before.allocated_bytes, static_cast<int64_t>(big));
  a.deallocate(p, big);
  AllocatorStats cached = a.stats();
  EXPECT_EQ(cached.allocated_bytes, before.allocated_bytes);
  EXPECT_EQ(cached.reserved_bytes - cached.allocated_bytes, static_cast<int64_t>(big));  // 3 MiB is page-aligned

  // The same size, and a slightly smaller one, get the cached block back.
  void* q = a.allocate(big);
  EXPECT_EQ(q, p);
  a.deallocate(q, big);
  void* r = a.allocate(big - 1000);
  EXPECT_EQ(r, p);
  a.deallocate(r, big - 1000);
  // The block keeps its true size through the smaller request.
  EXPECT_EQ(a.stats().reserved_bytes - a.stats().allocated_bytes, static_cast<int64_t>(big));

  // Less than three quarters of the block is a different block: no big waste.
  void* s = a.allocate(big / 2);
  EXPECT_NE(s, p);
  a.deallocate(s, big / 2);

  a.empty_cache();
  EXPECT_EQ(a.stats().reserved_bytes, a.stats().allocated_bytes);
}

// Ever-different sizes (decoded photos of a folder) cannot pile up: the
// cache holds at most the most ever live at once, and at least 64 MiB.
TEST(CpuAllocator, CacheIsBoundedByTheHighWaterMark) {
  Allocator& a = cpu_allocator();
  a.empty_cache();
  for (int k = 0; k < 200; ++k) {
    const size_t size = (size_t{1} << 20) + static_cast<size_t>(k) * (size_t{8} << 10);  // each too big for the last
    void* p = a.allocate(size);
    a.deallocate(p, size);
  }
  const AllocatorStats s = a.stats();
  // 200 blocks of 1-2.6 MiB were freed; only what fits in 64 MiB stays (the high water here is a few MiB).
  EXPECT_LE(s.reserved_bytes - s.allocated_bytes, int64_t{64} << 20);
  EXPECT_GE(s.reserved_bytes - s.allocated_bytes, int64_t{60} << 20);
  a.empty_cache();
}

TEST(CpuAllocator, SmallBlocksAreNotCached) {
  Allocator& a = cpu_allocator();
  a.empty_cache();
  void* p = a.allocate(1000);
  a.deallocate(p, 1000);
  EXPECT_EQ(a.stats().reserved_bytes, a.stats().allocated_bytes);
}

TEST(CpuAllocator, PeakAndNoGrowthOverTrainingLikeSteps) {
  Allocator& a = cpu_allocator();
  a.empty_cache();
  Tensor w = randn({256, 256}).requires_grad_();
  const int64_t start = a.stats().allocated_bytes;
  a.reset_peak();
  int64_t reserved_after_first = 0;
  for (int step = 0; step < 1000; ++step) {
    {
      Tensor x = randn({64, 256});
      Tensor loss = sum(relu(matmul(x, w)));
      loss.backward();
      w.zero_grad();
    }
    if (step == 0) reserved_after_first = a.stats().reserved_bytes;
  }
  const AllocatorStats end = a.stats();
  EXPECT_EQ(end.allocated_bytes, start);                 // nothing leaks
  EXPECT_EQ(end.reserved_bytes, reserved_after_first);   // the cache serves every later step
  // The peak holds at least x, x*w and its gradient (64x256 floats each).
  EXPECT_GE(end.peak_allocated_bytes - start, 3 * 64 * 256 * 4);
  EXPECT_LT(end.peak_allocated_bytes - start, 64 * 256 * 4 * 12);
}
