// CUDA pooling and batch normalisation against the CPU backend: max pooling
// with padding, dilation and ceil_mode (values, indices and gradients),
// average pooling with PyTorch's divisor rules, adaptive pooling (down and
// up), batch norm in training (outputs, running statistics, gradients) and
// evaluation (including the eval-mode backward), on 2-D, 3-D and 4-D inputs;
// batch norm with a fused ReLU, ReLU6, SiLU or Hardswish and the fused relu(a + b);
// float16/bfloat16 against float32.
#include "engine/backend_config.h"
#include "tests/cuda/cuda_test_util.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

TEST(CudaPool, MaxPoolMatchesCpu) {
  EMBER_REQUIRE_CUDA();
  manual_seed(1);
  struct Case {
    Shape x;
    Pair k, s, p, d;
    bool ceil;
  };
  std::vector<Case> cases = {
      {{2, 3, 8, 8}, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false},
      {{1, 4, 9, 11}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, false},  // ResNet stem pool, odd size
      {{2, 2, 10, 7}, {3, 2}, {2, 1}, {1, 1}, {2, 1}, false},  // dilated, rectangular
      {{2, 3, 9, 9}, {2, 2}, {2, 2}, {0, 0}, {1, 1}, true},    // ceil_mode
      {{1, 1, 5, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, false},   // overlapping windows
  };
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (const Case& c : cases) {
      // Integer-valued inputs make ties common: the first maximum of the window must win.
      Tensor x = floor(mul(randn(c.x, TensorOptions(dtype)), 2.0)).requires_grad_(true);
      compare_with_cpu({x},
                       MultiFn([&](const std::vector<Tensor>& v) {
                         auto [out, idx] = max_pool2d_with_indices(v[0], c.k, c.s, c.p, c.d, c.ceil);
                         return std::vector<Tensor>{out, idx};
                       }),
                       kElementwiseTol, cat_str("max_pool2d ", c.x, " k ", c.k[0], "x", c.k[1]));
    }
  }
  // The deterministic backward (one thread per plane) equals the CPU exactly.
  BackendConfig saved = backend_config();
  backend_config().deterministic = true;
  compare_with_cpu({rnd({2, 3, 9, 9})}, [](const std::vector<Tensor>& v) { return max_pool2d(v[0], {3, 3}, {1, 1}, {1, 1}); },
                   Tol{0, 0}, "deterministic max_pool2d backward");
  backend_config() = saved;
}

TEST(CudaPool, AvgPoolMatchesCpu) {
  EMBER_REQUIRE_CUDA();
  manual_seed(2);
  struct Case {
    Shape x;
    Pair k, s, p;
    bool ceil, include_pad;
    int64_t divisor;
  };
  std::vector<Case> cases = {
      {{2, 3, 8, 8}, {2, 2}, {2, 2}, {0, 0}, false, true, 0},
      {{1, 2, 9, 7}, {3, 3}, {2, 2}, {1, 1}, false, true, 0},
      {{1, 2, 9, 7}, {3, 3}, {2, 2}, {1, 1}, false, false, 0},
      {{2, 2, 10, 10}, {3, 3}, {2, 2}, {1, 1}, true, true, 0},
      {{2, 2, 10, 10}, {3, 3}, {2, 2}, {1, 1}, true, false, 0},
      {{1, 3, 6, 6}, {2, 3}, {1, 2}, {1, 1}, false, true, 5},
      {{1, 1, 7, 7}, {3, 3}, {1, 1}, {1, 1}, false, false, 0},  // overlapping windows
  };
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (const Case& c : cases) {
      compare_with_cpu({rnd(c.x, true, dtype)},
                       [&](const std::vector<Tensor>& v) {
                         return avg_pool2d(v[0], c.k, c.s, c.p, c.ceil, c.include_pad, c.divisor);
                       },
                       kElementwiseTol, cat_str("avg_pool2d ", c.x, " ceil ", c.ceil, " include_pad ", c.include_pad));
    }
  }
}

TEST(CudaPool, AdaptiveAvgPoolMatchesCpu) {
  EMBER_REQUIRE_CUDA();
  manual_seed(3);
  std::vector<std::pair<Shape, Pair>> cases = {{{2, 8, 7, 7}, {1, 1}},   {{1, 3, 10, 9}, {3, 4}},
                                               {{2, 2, 3, 3}, {5, 5}},   {{1, 2, 13, 5}, {4, 5}},
                                               {{4, 64, 56, 56}, {1, 1}}};
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (const auto& [shape, out] : cases) {
      compare_with_cpu({rnd(shape, true, dtype)}, [&](const std::vector<Tensor>& v) { return adaptive_avg_pool2d(v[0], out); },
                       kElementwiseTol, cat_str("adaptive_avg_pool2d ", shape, " -> ", out[0], "x", out[1]));
    }
  }
}

TEST(CudaBatchNorm, TrainingMatchesCpuIncludingRunningStats) {
  EMBER_REQUIRE_CUDA();
  manual_seed(4);
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (const Shape& shape : std::vector<Shape>{{8, 3, 5, 5}, {1, 4, 7, 3}, {16, 6}, {4, 5, 9}, {32, 64, 14, 14}}) {
      const int64_t C = shape[1];
      for (bool affine : {true, false}) {
        Tensor rm = rnd({C}, false, dtype), rv = unif({C}, 0.5, 2.0, false, dtype);
        Tensor rm_c = rm.clone(), rv_c = rv.clone(), rm_g = rm.to(kCuda), rv_g = rv.to(kCuda);
        std::vector<Tensor> inputs{mul(rnd(shape, false, dtype), 2.0).requires_grad_(true)};
        if (affine) {
          inputs.push_back(unif({C}, 0.5, 1.5, true, dtype));
          inputs.push_back(rnd({C}, true, dtype));
        }
        compare_with_cpu(inputs,
                         [&](const std::vector<Tensor>& v) {
                           const bool cuda = v[0].device().is_cuda();
                           return batch_norm(v[0], cuda ? rm_g : rm_c, cuda ? rv_g : rv_c, affine ? v[1] : Tensor(),
                                             affine ? v[2] : Tensor(), true, 0.1, 1e-5);
                         },
                         kAccumulateTol, cat_str("batch_norm train ", shape, affine ? " affine" : "", " ", dtype_name(dtype)));
        EXPECT_LE(cuda_error(rm_g, rm_c), 1e-5) << "running_mean " << shape_str(shape);
        EXPECT_LE(cuda_error(rv_g, rv_c), 1e-5) << "running_var (unbiased) " << shape_str(shape);
      }
    }
  }
}

TEST(CudaBatchNorm, EvaluationForwardAndBackwardMatchCpu) {
  EMBER_REQUIRE_CUDA();
  manual_seed(5);
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (const Shape& shape : std::vector<Shape>{{8, 3, 5, 5}, {16, 6}, {2, 4, 9}}) {
      const int64_t C = shape[1];
      Tensor rm = rnd({C}, false, dtype), rv = unif({C}, 0.5, 2.0, false, dtype);
      for (bool affine : {true, false}) {
        std::vector<Tensor> inputs{rnd(shape, true, dtype)};
        if (affine) {
          inputs.push_back(unif({C}, 0.5, 1.5, true, dtype));
          inputs.push_back(rnd({C}, true, dtype));
        }
        compare_with_cpu(inputs,
                         [&](const std::vector<Tensor>& v) {
                           const Device d = v[0].device();
                           return batch_norm(v[0], rm.to(d), rv.to(d), affine ? v[1] : Tensor(), affine ? v[2] : Tensor(),
                                             false, 0.1, 1e-3);
                         },
                         kAccumulateTol, cat_str("batch_norm eval ", shape, affine ? " affine" : "", " ", dtype_name(dtype)));
      }
    }
  }
}

// The fused activation: cuDNN's output activated in place, and the
// activation's gradient taken at the recomputed pre-activation before
// cuDNN's backward (training) or Ember's eval-mode backward.
TEST(CudaBatchNorm, FusedActivationMatchesCpu) {
  EMBER_REQUIRE_CUDA();
  manual_seed(7);
  for (FusedActivation act :
       {FusedActivation::Relu, FusedActivation::Relu6, FusedActivation::Silu, FusedActivation::Hardswish}) {
    for (DType dtype : {DType::Float32, DType::Float64}) {
      for (bool training : {true, false}) {
        const Shape shape{8, 6, 7, 7};
        Tensor rm = rnd({6}, false, dtype), rv = unif({6}, 0.5, 2.0, false, dtype);
        // Weight and bias spread so that ReLU6's upper bound is crossed too.
        std::vector<Tensor> inputs{rnd(shape, true, dtype), unif({6}, -4, 4, true, dtype), unif({6}, -1, 5, true, dtype)};
        compare_with_cpu(inputs,
                         [&](const std::vector<Tensor>& v) {
                           const Device d = v[0].device();
                           return batch_norm(v[0], rm.clone().to(d), rv.clone().to(d), v[1], v[2], training, 0.1,
                                             1e-5, act);
                         },
                         kAccumulateTol,
                         cat_str("batch_norm + activation ", static_cast<int>(act), training ? " train " : " eval ",
                                 dtype_name(dtype)));
      }
    }
  }
  for (const Shape& b : std::vector<Shape>{{4, 8, 6, 6}, {8, 1, 1}}) {
    compare_with_cpu({rnd({4, 8, 6, 6}), rnd(b)}, [](const std::vector<Tensor>& v) { return add_relu(v[0], v[1]); },
                     kElementwiseTol, cat_str("add_relu with ", shape_str(b)));
  }
}

TEST(CudaBatchNorm, HalfInputWithFloatParameters) {
  EMBER_REQUIRE_CUDA();
  manual_seed(6);
  for (DType dtype : {DType::Float16, DType::BFloat16}) {
    const double tol = dtype == DType::Float16 ? 5e-3 : 3e-2;
    Tensor x = randn({8, 4, 6, 6}, TensorOptions(dtype, kCuda)).requires_grad_(true);
    Tensor x32 = x.detach().to(DType::Float32).requires_grad_(true);
    Tensor w = ones({4}, TensorOptions(kCuda)), b = zeros({4}, TensorOptions(kCuda));
    Tensor rm = zeros({4}, TensorOptions(kCuda)), rv = ones({4}, TensorOptions(kCuda));
    Tensor rm32 = rm.clone(), rv32 = rv.clone();
    Tensor y = batch_norm(x, rm, rv, w, b, true), y32 = batch_norm(x32, rm32, rv32, w, b, true);
    EXPECT_EQ(y.dtype(), dtype);
    EXPECT_LE(relative_error(y.to(DType::Float32).cpu(), y32.cpu()), tol) << dtype_name(dtype);
    EXPECT_LE(relative_error(rv.cpu(), rv32.cpu()), tol) << dtype_name(dtype);
    Tensor up = randn({8, 4, 6, 6}, TensorOptions(kCuda));
    sum(mul(y, up.to(dtype))).backward();
    sum(mul(y32, up.to(dtype).to(DType::Float32))).backward();
    EXPECT_LE(relative_error(x.grad().to(DType::Float32).cpu(), x32.grad().cpu()), 4 * tol) << dtype_name(dtype);
    // Pooling in 16 bits.
    Tensor p = max_pool2d(x.detach(), {2, 2}), p32 = max_pool2d(x32.detach(), {2, 2});
    EXPECT_EQ(relative_error(p.to(DType::Float32).cpu(), p32.cpu()), 0) << dtype_name(dtype);
    Tensor a = adaptive_avg_pool2d(x.detach(), {1, 1}), a32 = adaptive_avg_pool2d(x32.detach(), {1, 1});
    EXPECT_LE(relative_error(a.to(DType::Float32).cpu(), a32.cpu()), tol) << dtype_name(dtype);
  }
}

}  // namespace
}  // namespace ember
