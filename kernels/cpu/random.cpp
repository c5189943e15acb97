// CPU random fills with Philox (kernels/philox.h): element i uses counter
// (i, offset), so the numbers do not depend on thread count and equal the
// CUDA backend's. Normal values use Box-Muller on two uniforms.
#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/strided_loop.h"
#include "kernels/philox.h"

namespace ember {
namespace {

template <class Gen>
void fill_random(const Tensor& dst, const char* op, Gen gen) {
  EMBER_CHECK(dst.is_contiguous(), op, "expects a contiguous tensor");
  dispatch_floating(dst.dtype(), op, [&]<class T>() {
    T* o = static_cast<T*>(dst.data_ptr());
    parallel_for(dst.numel(), 16384, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) o[i] = convert<T>(gen(i));
    });
  });
}

}  // namespace

void CpuBackend::random_uniform(const Tensor& dst, double low, double high, uint64_t seed, uint64_t offset) {
  bool use_double = dst.dtype() == DType::Float64;
  fill_random(dst, "uniform", [=](int64_t i) {
    PhiloxOut r = philox4x32(seed, static_cast<uint64_t>(i), offset);
    // (0, 1] mapped to [low, high): 1 - u is in [0, 1).
    double u = use_double ? 1.0 - philox_uniform01_double(r.w[0], r.w[1]) : 1.0 - philox_uniform01(r.w[0]);
    return low + (high - low) * u;
  });
}

void CpuBackend::random_normal(const Tensor& dst, double mean, double std, uint64_t seed, uint64_t offset) {
  bool use_double = dst.dtype() == DType::Float64;
  fill_random(dst, "normal", [=](int64_t i) {
    PhiloxOut r = philox4x32(seed, static_cast<uint64_t>(i), offset);
    double u1, u2;
    if (use_double) {
      u1 = philox_uniform01_double(r.w[0], r.w[1]);
      u2 = philox_uniform01_double(r.w[2], r.w[3]);
    } else {
      u1 = philox_uniform01(r.w[0]);
      u2 = philox_uniform01(r.w[1]);
    }
    return mean + std * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  });
}

void CpuBackend::random_bernoulli(const Tensor& dst, double p, uint64_t seed, uint64_t offset) {
  fill_random(dst, "bernoulli", [=](int64_t i) {
    PhiloxOut r = philox4x32(seed, static_cast<uint64_t>(i), offset);
    return philox_uniform01(r.w[0]) <= p ? 1.0 : 0.0;
  });
}

}  // namespace ember
