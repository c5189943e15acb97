// The fused, multi-tensor optimizer steps on CUDA (kernels/cuda/optimizer_step.cu)
// against the CPU backend's (kernels/cpu/optimizer_step.cpp, itself checked
// against torch.optim in tests/engine/optim_test): the same parameters and
// gradients, three steps, every parameter within 1e-5. The list is made to
// cross every edge of the launch tables: 45 parameters (a table holds 40),
// one of 21 million elements (more chunks than a table's 320 blocks), sizes
// that are not multiples of a chunk, one parameter without a gradient at
// step 2, float32 and float64.
#include "tests/cuda/cuda_test_util.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

std::vector<Shape> parameter_shapes() {
  std::vector<Shape> shapes = {{21'000'003}, {65'536}, {65'537}, {3, 3, 64, 64}, {1}};
  for (int i = 0; i < 40; ++i) shapes.push_back({static_cast<int64_t>(17 + 1000 * i)});
  return shapes;
}

// Runs three steps of the optimizer make() builds on copies of `init` on
// `device`, with gradients grads[step][param] (undefined: no gradient).
std::vector<Tensor> run_steps(const std::vector<Tensor>& init, const std::vector<std::vector<Tensor>>& grads,
                              Device device,
                              const std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>& make) {
  std::vector<Tensor> params;
  for (const Tensor& t : init) params.push_back(t.clone().to(device).requires_grad_());
  std::unique_ptr<Optimizer> opt = make(params);
  for (const auto& step : grads) {
    opt->zero_grad();
    for (size_t i = 0; i < params.size(); ++i)
      if (step[i].defined()) params[i].set_grad(step[i].to(device));
    opt->step();
  }
  std::vector<Tensor> out;
  for (const Tensor& p : params) out.push_back(p.detach().cpu());
  return out;
}

void compare(const std::string& name, const std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>& make) {
  for (DType dtype : {DType::Float32, DType::Float64}) {
    manual_seed(3);
    std::vector<Tensor> init;
    std::vector<std::vector<Tensor>> grads(3);
    for (const Shape& s : parameter_shapes()) {
      init.push_back(randn(s).to(dtype));
      for (int k = 0; k < 3; ++k) grads[static_cast<size_t>(k)].push_back(randn(s).to(dtype));
    }
    grads[1][3] = Tensor();  // the conv-shaped parameter skips step 2
    const std::vector<Tensor> cpu = run_steps(init, grads, Device{}, make);
    const std::vector<Tensor> cuda = run_steps(init, grads, kCuda, make);
    for (size_t i = 0; i < cpu.size(); ++i) {
      const double err = cuda_error(cuda[i], cpu[i]);
      EXPECT_LE(err, 1e-5) << name << ", " << dtype_name(dtype) << ", parameter " << i << " of shape " << shape_str(cpu[i].shape());
    }
  }
}

TEST(CudaOptimizers, SgdMatchesCpu) {
  EMBER_REQUIRE_CUDA();
  compare("sgd nesterov", [](std::vector<Tensor> p) {
    return std::make_unique<SGD>(single_group(p, 0.05, 1e-2), SgdOptions{0.9, 0.0, true});
  });
  compare("sgd plain", [](std::vector<Tensor> p) { return std::make_unique<SGD>(single_group(p, 0.1)); });
}

TEST(CudaOptimizers, AdamAdamWAmsgradMatchCpu) {
  EMBER_REQUIRE_CUDA();
  compare("adam amsgrad", [](std::vector<Tensor> p) {
    AdamOptions o;
    o.amsgrad = true;
    o.beta2 = 0.9;
    return std::make_unique<Adam>(single_group(p, 1e-2, 1e-3), o);
  });
  compare("adamw", [](std::vector<Tensor> p) {
    AdamOptions o;
    o.decoupled_weight_decay = true;
    return std::make_unique<Adam>(single_group(p, 1e-2, 0.1), o);
  });
}

}  // namespace
}  // namespace ember
