// Fused optimizer steps on the CPU: each parameter is updated in one pass
// over its tensors with the formulas of kernels/optimizer_math.h (the ones
// the CUDA backend uses too), threads over the elements of large tensors.
// Memory traffic per element: SGD reads p, g (and the momentum buffer) and
// writes p (and the buffer), 2-4 x sizeof(T); Adam reads p, g, m, v (vmax)
// and writes p, m, v (vmax), 7-9 x sizeof(T). The unfused elementwise ops
// moved about 30 x sizeof(T) for Adam.
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/parallel.h"
#include "kernels/optimizer_math.h"

namespace ember {
namespace {

template <class T>
T* data(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.data_ptr()) : nullptr;
}

constexpr int64_t kGrain = int64_t{1} << 15;  // elements per thread at least

// The loops take their constants by value and their arrays as restrict
// pointers, and the optional state is a template choice: GCC then
// vectorises them (sqrt and division included).
template <class T, bool kMomentum>
void sgd_loop(T* __restrict p, const T* __restrict g, T* __restrict buf, int64_t begin, int64_t end,
              const math::SgdConstants<T> c) {
  for (int64_t i = begin; i < end; ++i) {
    T b = kMomentum ? buf[i] : T(0);
    math::sgd_update(p[i], g[i], b, c);
    if constexpr (kMomentum) buf[i] = b;
  }
}

template <class T, bool kAmsgrad>
void adam_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, T* __restrict vmax,
               int64_t begin, int64_t end, const math::AdamConstants<T> c) {
  for (int64_t i = begin; i < end; ++i) {
    T vm = kAmsgrad ? vmax[i] : T(0);
    math::adam_update<T, kAmsgrad>(p[i], g[i], m[i], v[i], vm, c);
    if constexpr (kAmsgrad) vmax[i] = vm;
  }
}

}  // namespace

void CpuBackend::sgd_step(const std::vector<OptimizerParam>& params, const SgdScalars& s) {
  for (const OptimizerParam& e : params) {
    dispatch_float_double(e.param.dtype(), "sgd_step", [&]<class T>() {
      const math::SgdConstants<T> c = math::sgd_constants<T>(s);
      T *p = data<T>(e.param), *buf = data<T>(e.state[0]);
      const T* g = data<T>(e.grad);
      parallel_for(e.param.numel(), kGrain, [&](int64_t begin, int64_t end) {
        if (c.has_momentum) {
          sgd_loop<T, true>(p, g, buf, begin, end, c);
        } else {
          sgd_loop<T, false>(p, g, nullptr, begin, end, c);
        }
      });
    });
  }
}

void CpuBackend::adam_step(const std::vector<OptimizerParam>& params, const AdamScalars& s) {
  for (const OptimizerParam& e : params) {
    dispatch_float_double(e.param.dtype(), "adam_step", [&]<class T>() {
      const math::AdamConstants<T> c = math::adam_constants<T>(s);
      T *p = data<T>(e.param), *m = data<T>(e.state[0]), *v = data<T>(e.state[1]), *vmax = data<T>(e.state[2]);
      const T* g = data<T>(e.grad);
      parallel_for(e.param.numel(), kGrain, [&](int64_t begin, int64_t end) {
        if (s.amsgrad) {
          adam_loop<T, true>(p, g, m, v, vmax, begin, end, c);
        } else {
          adam_loop<T, false>(p, g, m, v, nullptr, begin, end, c);
        }
      });
    });
  }
}

}  // namespace ember
