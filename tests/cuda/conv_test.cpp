// CUDA convolution against the CPU backend: cuDNN for ordinary and grouped
// convolutions (stride, padding, dilation, rectangular kernels, 1x1, batch 1,
// odd sizes, non-contiguous input), Ember's depthwise kernel (also checked
// directly against cuDNN's grouped convolution), the bias gradient, the
// backend switches (TF32, cudnn_benchmark, deterministic) and the
// algorithm cache; float64; float16/bfloat16 against float32; the inference
// op conv2d_batch_norm (the backends' default: cuDNN conv, batch norm, add).
#include "tests/cuda/cuda_test_util.h"

#ifdef EMBER_WITH_CUDA
#include "kernels/cudnn/cudnn_conv.h"
#endif
#include "engine/backend.h"
#include "engine/backend_config.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

struct ConvCase {
  Shape x, w;
  bool bias;
  Pair stride, pad, dil;
  int64_t groups;
};

std::vector<ConvCase> conv_cases() {
  return {
      {{2, 3, 9, 9}, {4, 3, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 1},
      {{2, 3, 10, 11}, {5, 3, 3, 3}, false, {2, 2}, {1, 1}, {1, 1}, 1},
      {{1, 3, 17, 15}, {8, 3, 7, 7}, false, {2, 2}, {3, 3}, {1, 1}, 1},  // ResNet stem, odd size
      {{2, 4, 8, 8}, {6, 4, 3, 3}, true, {1, 1}, {2, 2}, {2, 2}, 1},     // dilated
      {{3, 2, 7, 6}, {3, 2, 2, 3}, true, {1, 2}, {0, 1}, {1, 1}, 1},     // rectangular kernel
      {{2, 8, 6, 6}, {16, 8, 1, 1}, false, {1, 1}, {0, 0}, {1, 1}, 1},   // pointwise
      {{2, 8, 7, 7}, {16, 8, 1, 1}, true, {2, 2}, {0, 0}, {1, 1}, 1},    // strided 1x1
      {{2, 6, 8, 8}, {9, 2, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 3},     // groups
      {{2, 8, 9, 9}, {8, 1, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 8},     // depthwise
      {{2, 8, 10, 10}, {8, 1, 3, 3}, false, {2, 2}, {1, 1}, {1, 1}, 8},  // depthwise, stride 2
      {{1, 4, 11, 11}, {4, 1, 5, 5}, true, {2, 2}, {2, 2}, {1, 1}, 4},   // depthwise 5x5
      {{2, 4, 9, 9}, {8, 1, 3, 3}, true, {1, 1}, {2, 2}, {2, 2}, 4},     // multiplier 2, dilated
      {{8, 32, 28, 28}, {64, 32, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 1},  // larger
  };
}

void check_conv(const ConvCase& c, DType dtype, const std::string& tag) {
  std::vector<Tensor> inputs{rnd(c.x, true, dtype), rnd(c.w, true, dtype)};
  if (c.bias) inputs.push_back(rnd({c.w[0]}, true, dtype));
  compare_with_cpu(inputs,
                   [&](const std::vector<Tensor>& v) {
                     return conv2d(v[0], v[1], c.bias ? v[2] : Tensor(), c.stride, c.pad, c.dil, c.groups);
                   },
                   kAccumulateTol, cat_str(tag, " conv x ", c.x, " w ", c.w, " groups ", c.groups, " ", dtype_name(dtype)));
}

// Restores the backend switches when a test ends.
struct ConfigGuard {
  BackendConfig saved = backend_config();
  ~ConfigGuard() { backend_config() = saved; }
};

TEST(CudaConv, ForwardAndBackwardMatchCpu) {
  EMBER_REQUIRE_CUDA();
  manual_seed(1);
  for (const ConvCase& c : conv_cases()) check_conv(c, DType::Float32, "");
  for (const ConvCase& c : conv_cases()) check_conv(c, DType::Float64, "");
}

TEST(CudaConv, NonContiguousAndUnbatchedInput) {
  EMBER_REQUIRE_CUDA();
  manual_seed(2);
  compare_with_cpu({rnd({2, 5, 5, 3}), rnd({4, 3, 3, 3})},
                   [](const std::vector<Tensor>& v) { return conv2d(v[0].permute({0, 3, 1, 2}), v[1], Tensor(), {1, 1}, {1, 1}); },
                   kAccumulateTol, "permuted input");
  compare_with_cpu({rnd({3, 6, 6}), rnd({2, 3, 3, 3})}, [](const std::vector<Tensor>& v) { return conv2d(v[0], v[1]); },
                   kAccumulateTol, "unbatched");
}

TEST(CudaConv, BiasGradientOverLargeOutputs) {
  EMBER_REQUIRE_CUDA();
  manual_seed(3);
  compare_with_cpu({rnd({16, 8, 32, 32}, false), rnd({64, 8, 1, 1}, false), rnd({64})},
                   [](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2]); }, kAccumulateTol,
                   "bias gradient");
}

TEST(CudaConv, BackendSwitches) {
  EMBER_REQUIRE_CUDA();
  manual_seed(4);
  ConfigGuard restore;
  const ConvCase c{{4, 16, 14, 14}, {32, 16, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 1};
  backend_config().cudnn_benchmark = true;
  check_conv(c, DType::Float32, "benchmark");
  backend_config().cudnn_benchmark = false;
  backend_config().deterministic = true;
  check_conv(c, DType::Float32, "deterministic");
  backend_config().deterministic = false;
  // TF32 rounds inputs to 10-bit mantissas: still close, just not float32-exact.
  backend_config().allow_tf32 = true;
  Tensor x = randn({4, 16, 14, 14}), w = randn({32, 16, 3, 3});
  Tensor y = conv2d(x.to(kCuda), w.to(kCuda), Tensor(), {1, 1}, {1, 1});
  EXPECT_LE(cuda_error(y, conv2d(x, w, Tensor(), {1, 1}, {1, 1})), 1e-2);
}

#ifdef EMBER_WITH_CUDA
TEST(CudaConv, AlgorithmChoiceIsCached) {
  EMBER_REQUIRE_CUDA();
  Tensor x = randn({2, 3, 13, 13}, TensorOptions(kCuda)), w = randn({5, 3, 3, 3}, TensorOptions(kCuda));
  conv2d(x, w);
  const size_t after_first = cudnn_conv_cache_size();
  conv2d(x, w);
  EXPECT_EQ(cudnn_conv_cache_size(), after_first);
  conv2d(randn({2, 3, 15, 13}, TensorOptions(kCuda)), w);
  EXPECT_EQ(cudnn_conv_cache_size(), after_first + 1);
}

// Ember's depthwise kernel against cuDNN's grouped convolution on the same GPU.
TEST(CudaConv, DepthwiseKernelAgreesWithCudnn) {
  EMBER_REQUIRE_CUDA();
  manual_seed(5);
  struct Case {
    Shape x, w;
    Conv2dParams p;
  };
  std::vector<Case> cases = {
      {{4, 32, 56, 56}, {32, 1, 3, 3}, {1, 1, 1, 1, 1, 1, 32}},
      {{2, 24, 28, 28}, {24, 1, 5, 5}, {2, 2, 2, 2, 1, 1, 24}},
      {{1, 16, 15, 17}, {32, 1, 3, 3}, {1, 1, 2, 2, 2, 2, 16}},  // multiplier 2, dilation 2
      {{3, 8, 7, 7}, {8, 1, 7, 7}, {1, 1, 3, 3, 1, 1, 8}},
  };
  Backend& be = backend(kCuda);
  for (const Case& c : cases) {
    const int64_t OH = conv_output_size(c.x[2], c.w[2], c.p.stride_h, c.p.pad_h, c.p.dilation_h);
    const int64_t OW = conv_output_size(c.x[3], c.w[3], c.p.stride_w, c.p.pad_w, c.p.dilation_w);
    for (DType dtype : {DType::Float32, DType::Float16}) {
      const double tol = dtype == DType::Float32 ? 1e-5 : 5e-3;
      Tensor x = randn(c.x, TensorOptions(dtype, kCuda)), w = randn(c.w, TensorOptions(dtype, kCuda));
      Tensor gy = randn({c.x[0], c.w[0], OH, OW}, TensorOptions(dtype, kCuda));
      Tensor mine = empty(gy.shape(), TensorOptions(dtype, kCuda)), ref = empty_like(mine);
      be.conv2d_forward(mine, x, w, Tensor(), c.p);
      cudnn_conv2d_forward(ref, x, w, c.p);
      EXPECT_LE(relative_error(mine.cpu(), ref.cpu()), tol) << "forward " << shape_str(c.x) << " " << dtype_name(dtype);
      Tensor gx = empty_like(x), gx_ref = empty_like(x);
      be.conv2d_backward_input(gx, gy, w, c.p);
      cudnn_conv2d_backward_input(gx_ref, gy, w, c.p);
      EXPECT_LE(relative_error(gx.cpu(), gx_ref.cpu()), tol) << "backward input " << shape_str(c.x) << " " << dtype_name(dtype);
      Tensor gw = empty_like(w), gw_ref = empty_like(w);
      be.conv2d_backward_weight(gw, gy, x, c.p);
      cudnn_conv2d_backward_weight(gw_ref, gy, x, c.p);
      EXPECT_LE(relative_error(gw.cpu(), gw_ref.cpu()), 10 * tol) << "backward weight " << shape_str(c.x) << " " << dtype_name(dtype);
    }
  }
}
#endif

TEST(CudaConv, HalfAndBFloat16AgainstFloat32) {
  EMBER_REQUIRE_CUDA();
  manual_seed(6);
  for (DType dtype : {DType::Float16, DType::BFloat16}) {
    const double tol = dtype == DType::Float16 ? 1e-2 : 4e-2;
    for (const ConvCase& c : conv_cases()) {
      Tensor x = randn(c.x, TensorOptions(dtype, kCuda)).requires_grad_(true);
      Tensor w = mul(randn(c.w, TensorOptions(dtype, kCuda)), 0.3).detach().requires_grad_(true);
      Tensor x32 = x.detach().to(DType::Float32).requires_grad_(true), w32 = w.detach().to(DType::Float32).requires_grad_(true);
      Tensor y = conv2d(x, w, Tensor(), c.stride, c.pad, c.dil, c.groups);
      Tensor y32 = conv2d(x32, w32, Tensor(), c.stride, c.pad, c.dil, c.groups);
      EXPECT_LE(relative_error(y.to(DType::Float32).cpu(), y32.cpu()), tol) << dtype_name(dtype) << " " << shape_str(c.x) << shape_str(c.w);
      Tensor up = randn(y.shape(), TensorOptions(dtype, kCuda));
      sum(mul(y, up)).backward();
      sum(mul(y32, up.to(DType::Float32))).backward();
      EXPECT_LE(relative_error(x.grad().to(DType::Float32).cpu(), x32.grad().cpu()), tol) << dtype_name(dtype);
      EXPECT_LE(relative_error(w.grad().to(DType::Float32).cpu(), w32.grad().cpu()), tol) << dtype_name(dtype);
    }
  }
}

TEST(CudaConv, Conv2dBatchNormMatchesCpu) {
  EMBER_REQUIRE_CUDA();
  manual_seed(9);
  NoGradGuard no_grad;
  for (const ConvCase& c : conv_cases()) {
    const int64_t OC = c.w[0];
    const int64_t OH = conv_output_size(c.x[2], c.w[2], c.stride[0], c.pad[0], c.dil[0]);
    const int64_t OW = conv_output_size(c.x[3], c.w[3], c.stride[1], c.pad[1], c.dil[1]);
    std::vector<Tensor> inputs{rnd(c.x, false), rnd(c.w, false), rnd({OC}, false), uniform({OC}, -2, 3),
                               uniform({OC}, -1, 5), rnd({OC}, false), uniform({OC}, 0.5, 2),
                               rnd({c.x[0], OC, OH, OW}, false)};
    for (bool residual : {false, true}) {
      compare_with_cpu(inputs,
                       [&](const std::vector<Tensor>& v) {
                         const BatchNormEval bn{v[3], v[4], v[5], v[6], 1e-3};
                         return conv2d_batch_norm(v[0], v[1], c.bias ? v[2] : Tensor(), c.stride, c.pad, c.dil,
                                                  c.groups, bn, residual ? FusedActivation::Relu : FusedActivation::Relu6,
                                                  residual ? v[7] : Tensor());
                       },
                       kAccumulateTol, residual ? "conv2d_batch_norm + residual" : "conv2d_batch_norm");
    }
  }
}

}  // namespace
}  // namespace ember
