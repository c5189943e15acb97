// CUDA matrix products (cuBLAS) against the CPU backend: plain, batched,
// broadcast batches (batch stride 0), transposed (column-major) operands,
// vectors, degenerate sizes (K = 0, M = 1, N = 1), linear layers, float64;
// float16/bfloat16 against float32; TF32 only when allowed.
#include "engine/backend_config.h"
#include "tests/cuda/cuda_test_util.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

TEST(CudaMatmul, ShapesAndLayoutsMatchCpu) {
  EMBER_REQUIRE_CUDA();
  manual_seed(1);
  struct Case {
    Shape a, b;
  };
  std::vector<Case> cases = {
      {{5, 7}, {7, 3}},       {{1, 7}, {7, 1}},          {{4, 5, 6}, {4, 6, 3}}, {{4, 5, 6}, {6, 3}},
      {{2, 1, 5, 6}, {3, 6, 2}}, {{7}, {7}},              {{7}, {7, 4}},          {{3, 7}, {7}},
      {{1, 1}, {1, 1}},       {{256, 512}, {512, 128}}, {{3, 1}, {1, 4}},       {{9, 33, 17}, {17, 65}},
  };
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (const Case& c : cases) {
      compare_with_cpu({rnd(c.a, true, dtype), rnd(c.b, true, dtype)},
                       [](const std::vector<Tensor>& v) { return matmul(v[0], v[1]); }, kAccumulateTol,
                       cat_str("matmul ", c.a, " x ", c.b, " ", dtype_name(dtype)));
    }
    // Column-major operands (transposed views need no copy).
    compare_with_cpu({rnd({7, 5}, true, dtype), rnd({3, 7}, true, dtype)},
                     [](const std::vector<Tensor>& v) { return matmul(v[0].t(), v[1].t()); }, kAccumulateTol,
                     "matmul of transposes");
    compare_with_cpu({rnd({4, 6, 5}, true, dtype), rnd({4, 6, 3}, true, dtype)},
                     [](const std::vector<Tensor>& v) { return matmul(v[0].transpose(1, 2), v[1]); }, kAccumulateTol,
                     "batched matmul, a transposed");
    // A linear layer: x [N, in] @ W^T + b.
    compare_with_cpu({rnd({8, 20}, true, dtype), rnd({10, 20}, true, dtype), rnd({10}, true, dtype)},
                     [](const std::vector<Tensor>& v) { return linear(v[0], v[1], v[2]); }, kAccumulateTol, "linear");
    compare_with_cpu({rnd({2, 3, 20}, true, dtype), rnd({10, 20}, true, dtype)},
                     [](const std::vector<Tensor>& v) { return linear(v[0], v[1]); }, kAccumulateTol, "linear 3-D");
  }
}

TEST(CudaMatmul, EmptyInnerDimensionGivesZeros) {
  EMBER_REQUIRE_CUDA();
  Tensor a = empty({3, 0}, TensorOptions(kCuda)), b = empty({0, 4}, TensorOptions(kCuda));
  Tensor c = matmul(a, b);
  EXPECT_EQ(c.shape(), (Shape{3, 4}));
  EXPECT_EQ(cuda_error(c, zeros({3, 4})), 0);
}

TEST(CudaMatmul, HalfAndBFloat16AgainstFloat32) {
  EMBER_REQUIRE_CUDA();
  manual_seed(2);
  for (DType dtype : {DType::Float16, DType::BFloat16}) {
    const double tol = dtype == DType::Float16 ? 5e-3 : 3e-2;
    for (auto [sa, sb] : std::vector<std::pair<Shape, Shape>>{{{64, 48}, {48, 80}}, {{3, 17, 9}, {9, 5}}, {{1, 7}, {7, 1}}}) {
      Tensor a = randn(sa, TensorOptions(dtype, kCuda)), b = randn(sb, TensorOptions(dtype, kCuda));
      Tensor c = matmul(a, b), c32 = matmul(a.to(DType::Float32), b.to(DType::Float32));
      EXPECT_EQ(c.dtype(), dtype);
      EXPECT_LE(relative_error(c.to(DType::Float32).cpu(), c32.cpu()), tol) << dtype_name(dtype) << " " << shape_str(sa);
    }
  }
}

TEST(CudaMatmul, Tf32OnlyWhenAllowed) {
  EMBER_REQUIRE_CUDA();
  manual_seed(3);
  BackendConfig saved = backend_config();
  Tensor a = randn({128, 256}), b = randn({256, 64});
  Tensor ref = matmul(a, b);
  backend_config().allow_tf32 = false;
  EXPECT_LE(cuda_error(matmul(a.to(kCuda), b.to(kCuda)), ref), 1e-5);
  backend_config().allow_tf32 = true;
  EXPECT_LE(cuda_error(matmul(a.to(kCuda), b.to(kCuda)), ref), 5e-3);
  backend_config() = saved;
}

}  // namespace
}  // namespace ember
