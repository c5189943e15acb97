// CUDA memory ops against the CPU backend: transfers in every dtype, copies
// with dtype conversion between every pair of dtypes and between strided
// views, fills (including -0.0 and non-contiguous targets), arange; pinned
// host memory and asynchronous copies; the stream, event and device-guard API.
#include <cmath>
#include <cstring>
#include <limits>

#include "tests/cuda/cuda_test_util.h"

#ifdef EMBER_WITH_CUDA
#include "engine/cuda/cuda_memory.h"
#include "engine/cuda/cuda_stream.h"
#endif

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

const std::vector<DType> kAllDtypes = {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16,
                                       DType::Int32,   DType::Int64,   DType::UInt8,   DType::Bool};

// Values that exercise conversions: fractions, negatives, large magnitudes, zero.
Tensor mixed_values(DType dtype) {
  Tensor base = mul(randn({5, 7}), 40.0);
  base = where(lt(abs(base), 5.0), 0.0, base);  // some exact zeros
  if (dtype == DType::UInt8) base = abs(base);   // no negative values into uint8 (undefined in C++)
  return base.to(dtype);
}

TEST(CudaMemory, RoundTripEveryDtype) {
  EMBER_REQUIRE_CUDA();
  manual_seed(1);
  for (DType dtype : kAllDtypes) {
    Tensor x = mixed_values(dtype);
    Tensor back = x.to(kCuda).cpu();
    ASSERT_EQ(back.dtype(), dtype);
    ASSERT_EQ(std::memcmp(back.data_ptr(), x.data_ptr(), static_cast<size_t>(x.numel()) * x.element_size()), 0)
        << dtype_name(dtype);
  }
}

TEST(CudaMemory, ConversionsBetweenEveryPairOfDtypes) {
  EMBER_REQUIRE_CUDA();
  manual_seed(2);
  for (DType from : kAllDtypes) {
    Tensor x = mixed_values(from);
    for (DType to : kAllDtypes) {
      if (from == to) continue;
      // Conversions out of range of the target (e.g. -40 to uint8) are undefined in C++; keep to the shared range.
      Tensor src = x;
      if (to == DType::UInt8 || to == DType::Bool) src = abs(x.to(DType::Float64)).to(from);
      Tensor cpu = src.to(to);
      Tensor gpu = src.to(kCuda).to(to);
      ASSERT_EQ(gpu.dtype(), to);
      Tensor g = gpu.cpu();
      EXPECT_EQ(std::memcmp(g.data_ptr(), cpu.data_ptr(), static_cast<size_t>(cpu.numel()) * cpu.element_size()), 0)
          << dtype_name(from) << " -> " << dtype_name(to) << "\ncuda: " << g << "\ncpu:  " << cpu;
    }
  }
}

// Floating values outside an integer type's range, NaN and the infinities
// convert as on the CPU: truncated and clamped, NaN as 0 (a plain cast on
// the device wraps into uint8, 300 -> 44). The same for fill values.
TEST(CudaMemory, OutOfRangeConversionsSaturateAsOnTheCpu) {
  EMBER_REQUIRE_CUDA();
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> values = {256.0, 300.0, 1000.7, -5.5, nan, inf, -inf, 3e10, -3e10, 200.9};
  for (DType from : {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16}) {
    Tensor x = from_vector(values, {static_cast<int64_t>(values.size())}).to(from);
    for (DType to : {DType::UInt8, DType::Int32, DType::Int64}) {
      Tensor cpu = x.to(to), gpu = x.to(kCuda).to(to).cpu();
      EXPECT_EQ(std::memcmp(gpu.data_ptr(), cpu.data_ptr(), static_cast<size_t>(cpu.numel()) * cpu.element_size()), 0)
          << dtype_name(from) << " -> " << dtype_name(to) << "\ncuda: " << gpu << "\ncpu:  " << cpu;
    }
  }
  EXPECT_EQ(from_vector(values, {10}).to(DType::UInt8).to_vector<uint8_t>(),
            (std::vector<uint8_t>{255, 255, 255, 0, 0, 255, 0, 255, 0, 200}));
  for (double v : {nan, inf, -inf, 300.5, -7.25}) {
    for (DType to : {DType::UInt8, DType::Int32, DType::Int64}) {
      Tensor cpu = full({3}, v, TensorOptions(to)), gpu = full({3}, v, TensorOptions(to, kCuda)).cpu();
      EXPECT_EQ(std::memcmp(gpu.data_ptr(), cpu.data_ptr(), static_cast<size_t>(cpu.numel()) * cpu.element_size()), 0)
          << "fill " << v << " into " << dtype_name(to) << "\ncuda: " << gpu << "\ncpu:  " << cpu;
    }
  }
}

TEST(CudaMemory, StridedCopies) {
  EMBER_REQUIRE_CUDA();
  manual_seed(3);
  Tensor x = randn({4, 6, 5});
  Tensor xg = x.to(kCuda);
  // contiguous() of views: transposes, slices with steps, broadcasts.
  EXPECT_EQ(cuda_error(xg.permute({2, 0, 1}).contiguous(), x.permute({2, 0, 1}).contiguous()), 0);
  EXPECT_EQ(cuda_error(xg.slice(1, 1, 6, 2).contiguous(), x.slice(1, 1, 6, 2).contiguous()), 0);
  EXPECT_EQ(cuda_error(xg.select(2, 3).expand({3, 4, 6}).contiguous(), x.select(2, 3).expand({3, 4, 6}).contiguous()), 0);
  // Copy into a strided view, with a dtype change.
  Tensor dc = zeros({6, 4}, TensorOptions(DType::Float64)), dg = zeros({6, 4}, TensorOptions(DType::Float64, kCuda));
  dc.t().copy_(x.select(2, 0));
  dg.t().copy_(xg.select(2, 0));
  EXPECT_EQ(cuda_error(dg, dc), 0);
  // Many dims that cannot merge.
  Tensor big = randn({2, 3, 2, 3, 2, 3, 2});
  Tensor perm = big.permute({6, 4, 2, 0, 1, 3, 5});
  EXPECT_EQ(cuda_error(big.to(kCuda).permute({6, 4, 2, 0, 1, 3, 5}).contiguous(), perm.contiguous()), 0);
}

TEST(CudaMemory, FillAndArange) {
  EMBER_REQUIRE_CUDA();
  for (DType dtype : kAllDtypes) {
    for (Scalar v : {Scalar(0), Scalar(1), Scalar(-0.0), Scalar(2.5), Scalar(7)}) {
      if (dtype == DType::UInt8 && v.to_double() < 0) continue;
      Tensor c = full({3, 9}, v, TensorOptions(dtype)), g = full({3, 9}, v, TensorOptions(dtype, kCuda));
      Tensor gc = g.cpu();
      EXPECT_EQ(std::memcmp(gc.data_ptr(), c.data_ptr(), static_cast<size_t>(c.numel()) * c.element_size()), 0)
          << dtype_name(dtype) << " fill " << v.to_double();
    }
    // A strided fill.
    Tensor c = zeros({4, 6}, TensorOptions(dtype)), g = zeros({4, 6}, TensorOptions(dtype, kCuda));
    c.slice(1, 0, 6, 2).fill_(3);
    g.slice(1, 0, 6, 2).fill_(3);
    EXPECT_EQ(cuda_error(g, c), 0) << dtype_name(dtype);
  }
  for (DType dtype : {DType::Float32, DType::Float64, DType::Int64, DType::Int32, DType::Float16}) {
    Tensor c = arange_typed(-3.5, 100.25, 0.37, TensorOptions(dtype));
    Tensor g = arange_typed(-3.5, 100.25, 0.37, TensorOptions(dtype, kCuda));
    EXPECT_EQ(cuda_error(g, c), 0) << dtype_name(dtype);
  }
  EXPECT_EQ(cuda_error(arange(0, 1000, 1, TensorOptions(kCuda)), arange(0, 1000)), 0);
}

TEST(CudaMemory, ItemAndPrinting) {
  EMBER_REQUIRE_CUDA();
  Tensor x = from_vector<float>({1.5f, -2.0f, 3.25f}, {3}, kCuda);
  EXPECT_EQ(x.device(), kCuda);
  EXPECT_FLOAT_EQ(sum(x).item<float>(), 2.75f);
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{1.5f, -2.0f, 3.25f}));
  EXPECT_NE(x.str().find("1.5"), std::string::npos);
}

#ifdef EMBER_WITH_CUDA
TEST(CudaMemory, PinnedMemoryAndAsyncCopies) {
  EMBER_REQUIRE_CUDA();
  manual_seed(4);
  Tensor x = randn({64, 1024});
  Tensor p = pin_memory(x);
  EXPECT_TRUE(is_pinned(p));
  EXPECT_FALSE(is_pinned(x));
  EXPECT_EQ(cuda_error(p, x), 0);
  AllocatorStats before = pinned_memory_stats();
  EXPECT_GE(before.allocated_bytes, static_cast<int64_t>(x.numel() * 4));
  // Many asynchronous copies from pinned memory, each followed by work on the GPU.
  Tensor acc = zeros({64, 1024}, TensorOptions(kCuda));
  for (int i = 0; i < 20; ++i) acc.add_(p.to(kCuda));
  EXPECT_LE(cuda_error(acc, mul(x, 20.0)), 1e-6);
  // A freed pinned block is reused only after its copies have finished.
  p = Tensor();
  Tensor q = pin_memory(x);
  EXPECT_TRUE(is_pinned(q));
  EXPECT_EQ(cuda_error(q.to(kCuda), x), 0);
}

TEST(CudaMemory, StreamsEventsAndGuards) {
  EMBER_REQUIRE_CUDA();
  EXPECT_EQ(current_stream(0), default_stream(0));
  CudaStream side(0);
  Tensor x = randn({1 << 20});
  Tensor y;
  {
    StreamGuard guard(0, side.raw());
    EXPECT_EQ(current_stream(0), side.raw());
    CudaEvent start, stop;
    start.record(side.raw());
    y = mul(x.to(kCuda), 2.0);
    stop.record(side.raw());
    stop.synchronize();
    EXPECT_TRUE(stop.query());
    EXPECT_GE(start.elapsed_ms(stop), 0.0f);
  }
  EXPECT_EQ(current_stream(0), default_stream(0));
  side.synchronize();
  EXPECT_EQ(cuda_error(y, mul(x, 2.0)), 0);
  {
    DeviceGuard guard(0);
    EXPECT_EQ(current_cuda_device(), 0);
  }
  // Work on Ember's stream, waited for by an event on another stream.
  CudaEvent done(false);
  Tensor z = add(y, 1.0);
  done.record(current_stream(0));
  done.block(side.raw());
  side.synchronize();
  EXPECT_EQ(cuda_error(z, add(mul(x, 2.0), 1.0)), 0);
}
#endif

TEST(CudaMemory, ErrorsWithoutDevice) {
  // Runs everywhere: naming a device that does not exist is a clear error.
  expect_error([] { zeros({2}, TensorOptions(Device(DeviceType::CUDA, 63))); }, {"cuda"});
}

}  // namespace
}  // namespace ember
