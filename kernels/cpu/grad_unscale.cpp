// Gradient unscaling for mixed precision on the CPU: g *= inv_scale over
// every gradient, noting whether any value was inf or NaN (the loss scale
// overflowed). One pass per tensor, threads over large ones; it reads and
// writes each element once (2 x sizeof(T) per element).
#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/parallel.h"

namespace ember {

void CpuBackend::unscale_grads(const std::vector<Tensor>& grads, const Tensor& found_inf, double inv_scale) {
  bool found = false;
  for (const Tensor& g : grads) {
    dispatch_floating(g.dtype(), "unscale_grads", [&]<class T>() {
      using A = compute_t<T>;
      T* p = static_cast<T*>(g.data_ptr());
      const A s = static_cast<A>(inv_scale);
      const int64_t n = g.numel();
      const int chunks = static_cast<int>(std::min<int64_t>(cpu_threads(), std::max<int64_t>(1, n >> 15)));
      std::vector<char> bad(static_cast<size_t>(chunks), 0);
      parallel_for(chunks, 1, [&](int64_t begin, int64_t end) {
        for (int64_t c = begin; c < end; ++c) {
          const int64_t lo = n * c / chunks, hi = n * (c + 1) / chunks;
          bool local = false;
          for (int64_t i = lo; i < hi; ++i) {
            const A v = static_cast<A>(p[i]);
            local |= !std::isfinite(v);
            p[i] = static_cast<T>(v * s);
          }
          bad[static_cast<size_t>(c)] = local;
        }
      });
      for (char b : bad) found |= b != 0;
    });
  }
  if (found) *static_cast<float*>(found_inf.data_ptr()) = 1.0f;
}

}  // namespace ember
