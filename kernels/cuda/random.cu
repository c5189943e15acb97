// CUDA random fills with Philox4x32-10 (kernels/philox.h): element i of a
// draw is a function of (seed, i, offset) only, so any thread can make any
// element and the numbers equal the CPU backend's (kernels/cpu/random.cpp)
// for the same seed and offset. The formulas are the CPU's, in double where
// the CPU computes in double; the CPU build contracts a*b + c into a fused
// multiply-add (GCC, -march=native), so the kernels call fma() at the same
// places. Uniform and Bernoulli values are therefore bit-identical; normal
// values go through the device's log and cos (at most an ulp or two from
// glibc's in double) and may differ from the CPU's in the last bit.
//   uniform:   low + (high - low) * (1 - u),  u in (0, 1] from 24 bits (53 for float64)
//   normal:    mean + std * sqrt(-2 log u1) * cos(2 pi u2)   (Box-Muller)
//   bernoulli: u <= p ? 1 : 0
// Inside a CUDA graph capture the kernel reads the seed and a base offset
// from device memory that each replay sets (engine/cuda/cuda_graph.h), so
// replays draw fresh numbers; `offset` is then relative to that base.
// Launch shape: one thread per element in grid-stride loops of 256-thread
// blocks. Memory traffic: sizeof(T) written per element; no reads (16 bytes
// of generator state per thread under a graph).
#include <cmath>

#include "engine/cuda/cuda_graph.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/device_types.cuh"
#include "kernels/philox.h"

namespace ember {
namespace {

enum class Distribution { Uniform, Normal, Bernoulli };

template <Distribution D, class T>
__global__ void random_kernel(T* out, int64_t n, uint64_t seed, uint64_t offset, const uint64_t* graph_state,
                              double a, double b, bool use_double) {
  if (graph_state) {  // replay of a captured graph: {seed, base offset}
    seed = graph_state[0];
    offset += graph_state[1];
  }
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const PhiloxOut r = philox4x32(seed, static_cast<uint64_t>(i), offset);
    double v;
    if constexpr (D == Distribution::Uniform) {  // a = low, b = high
      const double u = use_double ? 1.0 - philox_uniform01_double(r.w[0], r.w[1])
                                  : 1.0 - static_cast<double>(philox_uniform01(r.w[0]));
      v = fma(b - a, u, a);
    } else if constexpr (D == Distribution::Normal) {  // a = mean, b = std
      double u1, u2;
      if (use_double) {
        u1 = philox_uniform01_double(r.w[0], r.w[1]);
        u2 = philox_uniform01_double(r.w[2], r.w[3]);
      } else {
        u1 = philox_uniform01(r.w[0]);
        u2 = philox_uniform01(r.w[1]);
      }
      v = fma(b * sqrt(-2.0 * log(u1)), cos(2.0 * M_PI * u2), a);
    } else {  // a = p
      v = philox_uniform01(r.w[0]) <= a ? 1.0 : 0.0;
    }
    out[i] = cast<T>(v);
  }
}

template <Distribution D>
void fill_random(const Tensor& dst, const char* op, uint64_t seed, uint64_t offset, double a, double b) {
  EMBER_CHECK(dst.is_contiguous(), op, "expects a contiguous tensor");
  const int64_t n = dst.numel();
  if (n == 0) return;
  KernelContext ctx(dst);
  const uint64_t* graph_state = nullptr;
  if (const CudaGraph::Capture* capture = active_capture(ctx.device)) {
    const CudaGraph::Capture::PhiloxArgs args = capture->philox(seed, offset, op);
    offset = args.offset_in_graph;
    graph_state = args.device_state;
  }
  const bool use_double = dst.dtype() == DType::Float64;
  dispatch_cuda_floating(dst.dtype(), op, [&]<class T>() {
    random_kernel<D, T><<<grid_for(n, 256, ctx.device), 256, 0, ctx.stream>>>(static_cast<T*>(dst.data_ptr()), n,
                                                                              seed, offset, graph_state, a, b,
                                                                              use_double);
    EMBER_CUDA_CHECK_LAUNCH(op, cat_str("(", n, " elements)"));
  });
}

}  // namespace

void CudaBackend::random_uniform(const Tensor& dst, double low, double high, uint64_t seed, uint64_t offset) {
  fill_random<Distribution::Uniform>(dst, "uniform", seed, offset, low, high);
}

void CudaBackend::random_normal(const Tensor& dst, double mean, double std, uint64_t seed, uint64_t offset) {
  fill_random<Distribution::Normal>(dst, "normal", seed, offset, mean, std);
}

void CudaBackend::random_bernoulli(const Tensor& dst, double p, uint64_t seed, uint64_t offset) {
  fill_random<Distribution::Bernoulli>(dst, "bernoulli", seed, offset, p, 0.0);
}

}  // namespace ember
