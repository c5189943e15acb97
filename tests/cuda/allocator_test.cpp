// The caching CUDA allocator and the memory statistics: blocks are reused
// per stream, large segments split and merge, peak and counts are exact,
// empty_cache returns memory, out of memory is a clear error, and 1,000
// training steps leave the allocated bytes where they started.
#include <cmath>

#include "engine/backend.h"
#include "engine/cuda/cuda_memory.h"
#include "tests/cuda/cuda_test_util.h"

#ifdef EMBER_WITH_CUDA
#include "engine/cuda/caching_allocator.h"
#include "engine/cuda/cuda_stream.h"
#endif

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

constexpr size_t kMiB = size_t{1} << 20;

TEST(CudaAllocator, StatsApiWithoutCuda) {
#ifdef EMBER_WITH_CUDA
  EMBER_REQUIRE_CUDA();
  EXPECT_GE(cuda_memory_stats(0).reserved_bytes, 0);
  expect_error([] { cuda_memory_stats(63); }, {"cuda_memory_stats", "cuda:63"});
#else
  expect_error([] { cuda_memory_stats(0); }, {"cuda_memory_stats", "without CUDA"});
#endif
}

#ifdef EMBER_WITH_CUDA

TEST(CudaAllocator, FreedBlockIsReusedOnTheSameStream) {
  EMBER_REQUIRE_CUDA();
  Allocator& a = backend(kCuda).allocator(kCuda);
  void* p = a.allocate(3 * kMiB);
  a.deallocate(p, 3 * kMiB);
  void* q = a.allocate(3 * kMiB);
  EXPECT_EQ(p, q);
  {
    // Another stream does not get the block while it is cached for this one.
    CudaStream side(0);
    StreamGuard guard(0, side.raw());
    a.deallocate(q, 3 * kMiB);
    void* r = a.allocate(3 * kMiB);
    EXPECT_NE(r, p);
    a.deallocate(r, 3 * kMiB);
  }
  void* s = a.allocate(3 * kMiB);
  EXPECT_EQ(s, p);
  a.deallocate(s, 3 * kMiB);
  // Through tensors: a tensor of the same size lands where the freed one was.
  void* first;
  {
    Tensor t = empty({1000, 250}, TensorOptions(kCuda));
    first = t.data_ptr();
  }
  Tensor u = empty({250, 1000}, TensorOptions(kCuda));
  EXPECT_EQ(u.data_ptr(), first);
}

TEST(CudaAllocator, PeakAndCountsAreExact) {
  EMBER_REQUIRE_CUDA();
  CudaCachingAllocator& a = cuda_caching_allocator(0);
  a.reset_peak();
  const AllocatorStats s0 = a.stats();
  EXPECT_EQ(s0.peak_allocated_bytes, s0.allocated_bytes);
  void* p1 = a.allocate(4 * kMiB);
  void* p2 = a.allocate(1000);  // rounds up to 1024
  const AllocatorStats s1 = a.stats();
  EXPECT_EQ(s1.allocated_bytes - s0.allocated_bytes, static_cast<int64_t>(4 * kMiB + 1024));
  EXPECT_EQ(s1.num_allocs - s0.num_allocs, 2);
  a.deallocate(p1, 4 * kMiB);
  void* p3 = a.allocate(512);
  const AllocatorStats s2 = a.stats();
  EXPECT_EQ(s2.allocated_bytes - s0.allocated_bytes, 1024 + 512);
  EXPECT_EQ(s2.peak_allocated_bytes - s0.allocated_bytes, static_cast<int64_t>(4 * kMiB + 1024));
  a.reset_peak();
  EXPECT_EQ(a.stats().peak_allocated_bytes, s2.allocated_bytes);
  a.deallocate(p2, 1000);
  a.deallocate(p3, 512);
  EXPECT_EQ(a.stats().allocated_bytes, s0.allocated_bytes);
  // The public API reports the same numbers.
  EXPECT_EQ(cuda_memory_stats(0).allocated_bytes, a.stats().allocated_bytes);
}

TEST(CudaAllocator, SegmentsSplitAndMerge) {
  EMBER_REQUIRE_CUDA();
  CudaCachingAllocator& a = cuda_caching_allocator(0);
  void* big = a.allocate(64 * kMiB);
  a.deallocate(big, 64 * kMiB);
  const int64_t reserved = a.stats().reserved_bytes;
  // Two halves come out of the cached segment, without new memory from the driver.
  void* h1 = a.allocate(32 * kMiB);
  void* h2 = a.allocate(30 * kMiB);
  EXPECT_EQ(a.stats().reserved_bytes, reserved);
  EXPECT_EQ(h1, big);
  EXPECT_EQ(static_cast<char*>(h2), static_cast<char*>(big) + 32 * kMiB);
  a.deallocate(h1, 32 * kMiB);
  a.deallocate(h2, 30 * kMiB);
  // Freed neighbours merged back into one block.
  void* again = a.allocate(64 * kMiB);
  EXPECT_EQ(again, big);
  EXPECT_EQ(a.stats().reserved_bytes, reserved);
  a.deallocate(again, 64 * kMiB);
  // Small blocks share 2 MiB segments.
  void* s1 = a.allocate(512);
  const int64_t reserved_small = a.stats().reserved_bytes;
  void* s2 = a.allocate(512);
  EXPECT_EQ(a.stats().reserved_bytes, reserved_small);
  EXPECT_NE(s1, s2);
  a.deallocate(s1, 512);
  a.deallocate(s2, 512);
}

TEST(CudaAllocator, EmptyCacheReturnsFreeSegments) {
  EMBER_REQUIRE_CUDA();
  {
    Tensor t = empty({64, 1024, 1024}, TensorOptions(kCuda));  // 256 MiB
  }
  const AllocatorStats before = cuda_memory_stats(0);
  EXPECT_GE(before.reserved_bytes - before.allocated_bytes, static_cast<int64_t>(256 * kMiB));
  cuda_empty_cache(0);
  const AllocatorStats after = cuda_memory_stats(0);
  EXPECT_EQ(after.allocated_bytes, before.allocated_bytes);
  EXPECT_LE(after.reserved_bytes, before.reserved_bytes - static_cast<int64_t>(256 * kMiB));
  Tensor again = ones({1000}, TensorOptions(kCuda));  // still works afterwards
  EXPECT_FLOAT_EQ(sum(again).item<float>(), 1000.0f);
}

TEST(CudaAllocator, OutOfMemoryIsAClearError) {
  EMBER_REQUIRE_CUDA();
  expect_error([] { empty({int64_t{1} << 48}, TensorOptions(kCuda)); },
               {"out of memory", "cuda:0", "allocated", "reserved", "tried to allocate"});
  Tensor fine = zeros({10}, TensorOptions(kCuda));
  EXPECT_EQ(sum(fine).item<float>(), 0.0f);
}

TEST(CudaAllocator, DeviceBufferReturnsItsMemory) {
  EMBER_REQUIRE_CUDA();
  const int64_t before = cuda_memory_stats(0).allocated_bytes;
  {
    DeviceBuffer buf(0, 5000);
    EXPECT_NE(buf.get(), nullptr);
    EXPECT_EQ(cuda_memory_stats(0).allocated_bytes - before, 5120);
    DeviceBuffer moved = std::move(buf);
    EXPECT_EQ(buf.get(), nullptr);  // NOLINT: moved-from is empty by design
  }
  EXPECT_EQ(cuda_memory_stats(0).allocated_bytes, before);
}

// A small CNN trained with SGD: after a warm-up (optimizer state, cuDNN
// workspaces), every step must give back all it allocates.
TEST(CudaAllocator, NoLeakOverThousandTrainingSteps) {
  EMBER_REQUIRE_CUDA();
  manual_seed(0);
  const TensorOptions on_gpu(kCuda);
  Tensor w1 = mul(randn({8, 1, 3, 3}, on_gpu), 0.3).requires_grad_(true);
  Tensor gamma = ones({8}, on_gpu).requires_grad_(true), beta = zeros({8}, on_gpu).requires_grad_(true);
  Tensor rm = zeros({8}, on_gpu), rv = ones({8}, on_gpu);
  Tensor w2 = mul(randn({10, 8 * 6 * 6}, on_gpu), 0.05).requires_grad_(true);
  Tensor b2 = zeros({10}, on_gpu).requires_grad_(true);
  ParamGroup group;
  group.params = {w1, gamma, beta, w2, b2};
  group.lr = 0.01;
  SgdOptions sgd;
  sgd.momentum = 0.9;
  SGD opt({group}, sgd);
  auto step = [&] {
    Tensor x = randn({16, 1, 12, 12}, on_gpu);
    Tensor target = floor(uniform({16}, 0, 10, on_gpu)).to(DType::Int64);
    Tensor h = relu(batch_norm(conv2d(x, w1, Tensor(), {1, 1}, {1, 1}), rm, rv, gamma, beta, true));
    h = max_pool2d(h, {2, 2});
    Tensor logits = linear(h.flatten(1), w2, b2);
    Tensor loss = cross_entropy(logits, target, Tensor(), -100, Reduction::Mean, 0.1);
    opt.zero_grad();
    loss.backward();
    opt.step();
    return loss.item<float>();
  };
  for (int i = 0; i < 10; ++i) step();
  const AllocatorStats start = cuda_memory_stats(0);
  float last = 0;
  for (int i = 0; i < 1000; ++i) last = step();
  const AllocatorStats end = cuda_memory_stats(0);
  EXPECT_TRUE(std::isfinite(last));
  EXPECT_EQ(end.allocated_bytes, start.allocated_bytes) << "device memory leaked over 1000 steps";
  EXPECT_LE(end.reserved_bytes, 2 * start.reserved_bytes) << "the cache keeps growing";
}

#endif  // EMBER_WITH_CUDA

}  // namespace
}  // namespace ember
