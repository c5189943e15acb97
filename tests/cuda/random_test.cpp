// CUDA random numbers against the CPU backend: the same seed and offset give
// the same numbers (Philox is counter-based). Uniform and Bernoulli values
// are bit-identical; normal values go through the device's log and cos and
// may differ in the last bit (at most 1 ulp in float32, relative 1e-14 in
// float64). Dropout on the GPU equals dropout on the CPU.
#include <cmath>
#include <cstring>

#include "tests/cuda/cuda_test_util.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

// Largest distance in units in the last place between two float32 tensors.
int64_t max_ulp_distance(const Tensor& a, const Tensor& b) {
  std::vector<float> x = a.to_vector<float>(), y = b.to_vector<float>();
  int64_t worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    int32_t ix, iy;
    std::memcpy(&ix, &x[i], 4);
    std::memcpy(&iy, &y[i], 4);
    if (ix < 0) ix = INT32_MIN - ix;  // map to a monotonic integer line
    if (iy < 0) iy = INT32_MIN - iy;
    worst = std::max<int64_t>(worst, std::llabs(static_cast<int64_t>(ix) - iy));
  }
  return worst;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  Tensor x = a.cpu(), y = b.cpu();
  return x.dtype() == y.dtype() && x.numel() == y.numel() &&
         std::memcmp(x.data_ptr(), y.data_ptr(), static_cast<size_t>(x.numel()) * x.element_size()) == 0;
}

TEST(CudaRandom, UniformIsBitIdentical) {
  EMBER_REQUIRE_CUDA();
  for (DType dtype : {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16}) {
    for (int64_t n : {1, 1000, 100003}) {
      Generator gc(1234), gg(1234);
      Tensor c = uniform({n}, -2.0, 3.0, TensorOptions(dtype), &gc);
      Tensor g = uniform({n}, -2.0, 3.0, TensorOptions(dtype, kCuda), &gg);
      EXPECT_TRUE(same_bits(g, c)) << dtype_name(dtype) << " n=" << n;
      // The next draw (offset 1) too.
      EXPECT_TRUE(same_bits(rand({n}, TensorOptions(dtype, kCuda), &gg), rand({n}, TensorOptions(dtype), &gc)))
          << dtype_name(dtype);
    }
  }
}

TEST(CudaRandom, NormalMatchesWithinOneUlp) {
  EMBER_REQUIRE_CUDA();
  Generator gc(99), gg(99);
  Tensor c = normal({200003}, 0.5, 2.0, TensorOptions(DType::Float32), &gc);
  Tensor g = normal({200003}, 0.5, 2.0, TensorOptions(DType::Float32, kCuda), &gg);
  EXPECT_LE(max_ulp_distance(g.cpu(), c), 1);
  Tensor c64 = randn({100000}, TensorOptions(DType::Float64), &gc);
  Tensor g64 = randn({100000}, TensorOptions(DType::Float64, kCuda), &gg);
  EXPECT_LE(relative_error(g64.cpu(), c64), 1e-14);
  for (DType dtype : {DType::Float16, DType::BFloat16}) {
    Tensor ch = randn({5000}, TensorOptions(dtype), &gc), gh = randn({5000}, TensorOptions(dtype, kCuda), &gg);
    EXPECT_LE(relative_error(gh.cpu(), ch), dtype == DType::Float16 ? 1e-3 : 8e-3) << dtype_name(dtype);
  }
  // Sanity of the distribution on the GPU itself.
  Tensor big = randn({1 << 20}, TensorOptions(kCuda), &gg);
  EXPECT_NEAR(mean(big).item<double>(), 0.0, 0.01);
  EXPECT_NEAR(std_dev(big).item<double>(), 1.0, 0.01);
}

TEST(CudaRandom, BernoulliAndDropoutMatchCpu) {
  EMBER_REQUIRE_CUDA();
  for (double p : {0.0, 0.1, 0.5, 0.9, 1.0}) {
    Generator gc(7), gg(7);
    Tensor c = bernoulli({4097}, p, TensorOptions(), &gc);
    Tensor g = bernoulli({4097}, p, TensorOptions(kCuda), &gg);
    EXPECT_TRUE(same_bits(g, c)) << "p=" << p;
  }
  Generator gc(11), gg(11);
  Tensor x = randn({32, 65});
  Tensor xc = x.clone().requires_grad_(true), xg = x.to(kCuda).requires_grad_(true);
  Tensor yc = dropout(xc, 0.3, true, &gc), yg = dropout(xg, 0.3, true, &gg);
  EXPECT_LE(cuda_error(yg, yc), 1e-7);
  Tensor up = randn({32, 65});
  sum(mul(yc, up)).backward();
  sum(mul(yg, up.to(kCuda))).backward();
  EXPECT_LE(cuda_error(xg.grad(), xc.grad()), 1e-7);
}

TEST(CudaRandom, InPlaceFillsAndDefaultGenerator) {
  EMBER_REQUIRE_CUDA();
  manual_seed(5);
  Tensor c = empty({300});
  c.uniform_(-1, 1);
  manual_seed(5);
  Tensor g = empty({300}, TensorOptions(kCuda));
  g.uniform_(-1, 1);
  EXPECT_TRUE(same_bits(g, c));
}

}  // namespace
}  // namespace ember
