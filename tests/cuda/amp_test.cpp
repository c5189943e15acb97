// Mixed precision on CUDA against the CPU backend (itself checked against
// PyTorch in tests/engine/amp_test): a small CNN under float16 and bfloat16
// autocast (cuDNN convolution and batch norm, cuBLAS products in 16-bit with
// float32 parameters), and the gradient unscaling kernel with and without
// inf/NaN in float32, float16 and bfloat16 gradients.
#include <limits>

#include "engine/backend.h"
#include "tests/cuda/cuda_test_util.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

// conv -> batch norm -> ReLU -> max pool -> global average -> linear -> cross-entropy.
MultiFn autocast_net(DType amp_dtype, const Tensor& labels) {
  return [amp_dtype, labels](const std::vector<Tensor>& x) {
    AutocastGuard amp(amp_dtype);
    Tensor y = conv2d(x[0], x[1], Tensor(), {1, 1}, {1, 1});
    y = batch_norm(y, Tensor(), Tensor(), x[2], x[3], true, 0.1, 1e-5);
    y = adaptive_avg_pool2d(max_pool2d(relu(y), {2, 2}), {1, 1}).flatten(1);
    Tensor logits = linear(y, x[4], x[5]);
    return std::vector<Tensor>{cross_entropy(logits, labels.to(logits.device())), logits};
  };
}

TEST(CudaAmp, AutocastNetMatchesCpu) {
  EMBER_REQUIRE_CUDA();
  manual_seed(11);
  std::vector<Tensor> inputs = {rnd({8, 16, 12, 12}), rnd({32, 16, 3, 3}), add(rand({32}), 0.5).requires_grad_(),
                                rnd({32}), rnd({10, 32}), rnd({10})};
  Tensor labels = from_vector(std::vector<int64_t>{3, 1, 4, 1, 5, 9, 2, 6}, {8});
  // float16: a few roundings apart (cuDNN and the CPU sum in other orders);
  // bfloat16 has 3 bits fewer.
  compare_with_cpu(inputs, autocast_net(DType::Float16, labels), Tol{5e-3, 2e-2}, "float16 autocast net");
  compare_with_cpu(inputs, autocast_net(DType::BFloat16, labels), Tol{3e-2, 1e-1}, "bfloat16 autocast net");
}

TEST(CudaAmp, UnscaleGradsMatchesCpu) {
  EMBER_REQUIRE_CUDA();
  for (DType dtype : {DType::Float32, DType::Float16, DType::BFloat16}) {
    for (bool with_inf : {false, true}) {
      std::vector<Tensor> cpu, gpu;
      for (int64_t n : {int64_t{3}, int64_t{70'001}, int64_t{1'000'000}}) {
        Tensor g = mul(randn({n}), 1024.0).to(dtype);
        if (with_inf && n == 70'001) g.narrow(0, 69'999, 1).fill_(std::numeric_limits<double>::infinity());
        cpu.push_back(g);
        gpu.push_back(g.to(kCuda));
      }
      Tensor flag_cpu = zeros({1}), flag_gpu = zeros({1}, TensorOptions(kCuda));
      backend(kCPU).unscale_grads(cpu, flag_cpu, 1.0 / 1024);
      backend(kCuda).unscale_grads(gpu, flag_gpu, 1.0 / 1024);
      EXPECT_EQ(flag_gpu.item(), with_inf ? 1.0 : 0.0) << dtype_name(dtype);
      EXPECT_EQ(flag_cpu.item(), flag_gpu.item()) << dtype_name(dtype);
      for (size_t i = 0; i < cpu.size(); ++i) {
        // A power-of-two scale is exact: the results agree bit for bit.
        EXPECT_EQ(cuda_error(gpu[i], cpu[i]), 0.0) << dtype_name(dtype) << " gradient " << i;
      }
    }
  }
}

TEST(CudaAmp, GradScalerSkipsAnOverflowingStepOnTheGpu) {
  EMBER_REQUIRE_CUDA();
  Tensor p = ones({4}, TensorOptions(kCuda)).requires_grad_();
  SGD opt(single_group({p}, 1.0));
  GradScaler scaler;
  p.set_grad(full({4}, 65536.0 * 0.25, TensorOptions(kCuda)));
  EXPECT_TRUE(scaler.step(opt));
  scaler.update();
  EXPECT_EQ(p.detach().cpu().to_vector<float>(), std::vector<float>(4, 0.75f));
  p.set_grad(full({4}, std::numeric_limits<double>::quiet_NaN(), TensorOptions(kCuda)));
  EXPECT_FALSE(scaler.step(opt));
  scaler.update();
  EXPECT_EQ(p.detach().cpu().to_vector<float>(), std::vector<float>(4, 0.75f));
  EXPECT_EQ(scaler.get_scale(), 32768.0);
}

}  // namespace
}  // namespace ember
