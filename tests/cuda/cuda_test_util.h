// Helpers for the CUDA test programs (tests/cuda/*_test.cpp), which compare
// the CUDA backend against the CPU backend:
//
//   EMBER_REQUIRE_CUDA();   // first line of every test: skips with "no CUDA
//                           // device: <reason>" on machines without a GPU (or
//                           // fails when EMBER_REQUIRE_CUDA=1, as the GPU check
//                           // script sets)
//   compare_with_cpu({x, w}, [](const Inputs& v) { return conv2d(v[0], v[1]); }, kConvTol, "conv");
//
// compare_with_cpu runs the same front-end function on CPU inputs and on CUDA
// copies of them, compares the outputs, backpropagates one random upstream
// gradient through both, and compares the gradients of the inputs that
// require grad. Errors are max|cuda - cpu| / max|cpu| (tests/support/oracle.h);
// integer and bool outputs must match exactly.
// Everything compiles in a CPU-only build too (the tests then skip).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "engine/ember.h"
#include "tests/support/oracle.h"

#ifdef EMBER_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace ember::test {

inline const Device kCuda{DeviceType::CUDA, 0};

// Why no CUDA device is usable ("" when one is).
inline std::string cuda_unavailable_reason() {
#ifndef EMBER_WITH_CUDA
  return "this Ember was built without CUDA";
#else
  if (cuda_device_count() > 0) return "";
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  cudaGetLastError();
  if (err != cudaSuccess) return std::string("cudaGetDeviceCount: ") + cudaGetErrorString(err);
  return "the driver reports no CUDA device";
#endif
}

inline bool cuda_required_by_env() {
  const char* v = std::getenv("EMBER_REQUIRE_CUDA");
  return v && std::string(v) == "1";
}

#define EMBER_REQUIRE_CUDA()                                                              \
  do {                                                                                    \
    const std::string ember_why_ = ::ember::test::cuda_unavailable_reason();              \
    if (!ember_why_.empty()) {                                                            \
      if (::ember::test::cuda_required_by_env()) {                                        \
        FAIL() << "EMBER_REQUIRE_CUDA=1 but there is no CUDA device: " << ember_why_;     \
      }                                                                                   \
      GTEST_SKIP() << "no CUDA device: " << ember_why_;                                   \
    }                                                                                     \
  } while (0)

struct Tol {
  double forward;
  double backward;
};
inline constexpr Tol kElementwiseTol{1e-5, 1e-5};
inline constexpr Tol kAccumulateTol{1e-4, 1e-4};  // conv, matmul, reductions

// The error between a CUDA result and the CPU reference (0 when both integer and equal).
inline double cuda_error(const Tensor& cuda_result, const Tensor& cpu_result) {
  Tensor a = cuda_result.detach().cpu();
  double err = relative_error(a, cpu_result.detach());
  if (!is_floating(cpu_result.dtype())) err = err == 0 ? 0 : INFINITY;
  return err;
}

using MultiFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

// See the header comment. `inputs` are CPU tensors; those requiring grad get gradients compared.
inline void compare_with_cpu(const std::vector<Tensor>& inputs, const MultiFn& fn, Tol tol, const std::string& what) {
  std::vector<Tensor> cpu, gpu;
  for (const Tensor& t : inputs) {
    Tensor c = t.detach().clone();
    Tensor g = t.detach().to(kCuda);
    if (t.requires_grad()) {
      c.requires_grad_(true);
      g.requires_grad_(true);
    }
    cpu.push_back(c);
    gpu.push_back(g);
  }
  std::vector<Tensor> yc = fn(cpu), yg = fn(gpu);
  ASSERT_EQ(yc.size(), yg.size()) << what;
  Tensor loss_c, loss_g;
  for (size_t i = 0; i < yc.size(); ++i) {
    ASSERT_TRUE(yg[i].device().is_cuda()) << what << ": output " << i << " is not on the GPU";
    ASSERT_EQ(yg[i].shape(), yc[i].shape()) << what << ": output " << i;
    ASSERT_EQ(yg[i].dtype(), yc[i].dtype()) << what << ": output " << i;
    EXPECT_LE(cuda_error(yg[i], yc[i]), tol.forward) << what << ": output " << i << " differs\ncuda: " << yg[i].cpu()
                                                     << "\ncpu:  " << yc[i];
    if (yc[i].requires_grad()) {
      // sum(y * g) with one random g per output: the same upstream gradient on both devices.
      Tensor g = randn(yc[i].shape(), TensorOptions(yc[i].dtype()));
      Tensor lc = sum(mul(yc[i], g)), lg = sum(mul(yg[i], g.to(kCuda)));
      loss_c = loss_c.defined() ? add(loss_c, lc) : lc;
      loss_g = loss_g.defined() ? add(loss_g, lg) : lg;
    }
  }
  if (!loss_c.defined()) return;
  loss_c.backward();
  loss_g.backward();
  for (size_t i = 0; i < cpu.size(); ++i) {
    if (!cpu[i].requires_grad()) continue;
    Tensor gc = cpu[i].grad(), gg = gpu[i].grad();
    ASSERT_EQ(gc.defined(), gg.defined()) << what << ": gradient " << i << " defined on one device only";
    if (!gc.defined()) continue;
    EXPECT_LE(cuda_error(gg, gc), tol.backward) << what << ": gradient of input " << i << " differs\ncuda: " << gg.cpu()
                                                << "\ncpu:  " << gc;
  }
}

inline void compare_with_cpu(const std::vector<Tensor>& inputs, const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                             Tol tol, const std::string& what) {
  compare_with_cpu(inputs, MultiFn([&](const std::vector<Tensor>& v) { return std::vector<Tensor>{fn(v)}; }), tol,
                   what);
}

// A CPU float tensor from N(0, 1) that requires grad (or not).
inline Tensor rnd(const Shape& shape, bool grad = true, DType dtype = DType::Float32) {
  Tensor t = randn(shape, TensorOptions(dtype));
  if (grad) t.requires_grad_(true);
  return t;
}

// A CPU tensor uniform in [low, high).
inline Tensor unif(const Shape& shape, double low, double high, bool grad = true, DType dtype = DType::Float32) {
  Tensor t = uniform(shape, low, high, TensorOptions(dtype));
  if (grad) t.requires_grad_(true);
  return t;
}

}  // namespace ember::test
