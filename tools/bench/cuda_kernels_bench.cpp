// Achieved memory bandwidth of Ember's CUDA kernels at large sizes, next to
// the device-to-device copy bandwidth (cudaMemcpyAsync, bytes read + written)
// that bounds them. Each kernel is called through the backend on
// preallocated tensors, timed with CUDA events on Ember's stream: 3 warm-up
// runs, then the median of 25. Bytes are the minimum traffic of the op
// (every input read once, every output written once), so GB/s / copy GB/s
// says how close a kernel gets to the memory system's limit (the target at
// these sizes is 80% or more).
//
// Usage: cuda_kernels_bench [--quick]   (--quick: 16x smaller tensors)
// Without CUDA (or without a GPU) it says so and exits with status 0.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/ember.h"

#ifdef EMBER_WITH_CUDA
#include <cuda_runtime.h>

#include "engine/cuda/cuda_stream.h"
#endif

using namespace ember;  // NOLINT

#ifdef EMBER_WITH_CUDA
namespace {

const Device kGpu{DeviceType::CUDA, 0};

// Median milliseconds of fn on the current stream.
double median_ms(const std::function<void()>& fn) {
  cudaStream_t stream = current_stream(0);
  for (int i = 0; i < 3; ++i) fn();
  std::vector<double> times;
  CudaEvent start, stop;
  for (int i = 0; i < 25; ++i) {
    start.record(stream);
    fn();
    stop.record(stream);
    stop.synchronize();
    times.push_back(start.elapsed_ms(stop));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

struct Row {
  std::string name, shape;
  double ms, gbps;
};

std::vector<Row> rows;
double copy_gbps = 0;

void report(const std::string& name, const std::string& shape, double bytes, const std::function<void()>& fn) {
  const double ms = median_ms(fn);
  const double gbps = bytes / (ms * 1e-3) / 1e9;
  rows.push_back({name, shape, ms, gbps});
  std::printf("%-34s %-22s %9.3f ms %8.1f GB/s %6.1f%%\n", name.c_str(), shape.c_str(), ms, gbps,
              copy_gbps > 0 ? 100.0 * gbps / copy_gbps : 100.0);
  std::fflush(stdout);
}

std::string shape_text(const Shape& s) { return cat_str(s); }

}  // namespace
#endif

int main(int argc, char** argv) {
#ifndef EMBER_WITH_CUDA
  (void)argc;
  (void)argv;
  std::printf("cuda_kernels_bench: this Ember was built without CUDA; nothing to measure\n");
  return 0;
#else
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  if (cuda_device_count() == 0) {
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    std::printf("cuda_kernels_bench: no CUDA device (%s); nothing to measure\n",
                err == cudaSuccess ? "the driver reports none" : cudaGetErrorString(err));
    return 0;
  }
  try {
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, 0);
    std::printf("cuda_kernels_bench on %s (%d SMs, %.0f GiB)\n", prop.name, prop.multiProcessorCount,
                static_cast<double>(prop.totalGlobalMem) / (1 << 30));
    std::printf("%-34s %-22s %12s %13s %7s\n", "kernel", "shape", "median", "bandwidth", "of copy");

    Backend& be = backend(kGpu);
    const int64_t n = quick ? (int64_t{1} << 22) : (int64_t{1} << 26);  // 64 Mi floats = 256 MiB
    const int64_t cols = 4096, rws = n / cols;
    const TensorOptions f32(DType::Float32, kGpu), f16(DType::Float16, kGpu);
    Tensor x = randn({n}, f32), y = randn({n}, f32), out = empty({n}, f32);
    const double fb = 4.0;  // bytes per float

    {
      void* dst = out.data_ptr();
      const void* src = x.data_ptr();
      const size_t bytes = static_cast<size_t>(n) * 4;
      const double ms = median_ms([&] {
        cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, current_stream(0));
      });
      copy_gbps = 2.0 * static_cast<double>(bytes) / (ms * 1e-3) / 1e9;
      rows.push_back({"cudaMemcpy device to device", shape_text({n}), ms, copy_gbps});
      std::printf("%-34s %-22s %9.3f ms %8.1f GB/s %6.1f%%\n", "cudaMemcpy device to device", shape_text({n}).c_str(),
                  ms, copy_gbps, 100.0);
    }

    report("copy kernel (strided: transpose)", shape_text({rws, cols}), 2 * fb * n,
           [&] { be.copy(out.view({cols, rws}), x.view({rws, cols}).t()); });
    report("unary relu", shape_text({n}), 2 * fb * n, [&] { be.unary(out, x, UnaryOp::Relu, {}); });
    report("unary gelu", shape_text({n}), 2 * fb * n, [&] { be.unary(out, x, UnaryOp::Gelu, {}); });
    report("binary add", shape_text({n}), 3 * fb * n, [&] { be.binary(out, x, y, BinaryOp::Add, {}); });
    Tensor scalar = full({}, 2.0f, f32);
    report("binary mul by a scalar", shape_text({n}), 2 * fb * n,
           [&] { be.binary(out, x, scalar.expand({n}), BinaryOp::Mul, {}); });
    Tensor row_vec = randn({cols}, f32);
    report("binary add, broadcast [C]", shape_text({rws, cols}), fb * (2.0 * n + cols), [&] {
      be.binary(out.view({rws, cols}), x.view({rws, cols}), row_vec.expand({rws, cols}), BinaryOp::Add, {});
    });
    Tensor col_vec = randn({rws, 1}, f32);
    report("binary add, broadcast [R, 1]", shape_text({rws, cols}), fb * (2.0 * n + rws), [&] {
      be.binary(out.view({rws, cols}), x.view({rws, cols}), col_vec.expand({rws, cols}), BinaryOp::Add, {});
    });
    {
      Tensor xh = x.to(DType::Float16), yh = y.to(DType::Float16), oh = empty({n}, f16);
      report("binary add float16", shape_text({n}), 3 * 2.0 * n, [&] { be.binary(oh, xh, yh, BinaryOp::Add, {}); });
      report("unary silu float16", shape_text({n}), 2 * 2.0 * n, [&] { be.unary(oh, xh, UnaryOp::Silu, {}); });
    }
    Tensor r_rows = empty({rws}, f32), r_cols = empty({cols}, f32), r_all = empty({}, f32);
    report("sum over last dim", shape_text({rws, cols}), fb * (n + rws),
           [&] { be.reduce(r_rows, x, ReduceOp::Sum, rws, cols, 1); });
    report("sum over first dim", shape_text({rws, cols}), fb * (n + cols),
           [&] { be.reduce(r_cols, x, ReduceOp::Sum, 1, rws, cols); });
    report("sum of everything", shape_text({n}), fb * n, [&] { be.reduce(r_all, x, ReduceOp::Sum, 1, n, 1); });
    report("max over last dim", shape_text({rws, cols}), fb * (n + rws),
           [&] { be.reduce(r_rows, x, ReduceOp::Max, rws, cols, 1); });
    {
      const int64_t classes = 1000, batch = n / 1024;
      Tensor logits = randn({batch, classes}, f32), probs = empty({batch, classes}, f32);
      report("softmax rows of 1000", shape_text({batch, classes}), 2 * fb * batch * classes,
             [&] { be.softmax_forward(probs, logits, batch, classes, 1, false); });
      Tensor wide = x.view({rws, cols});
      report("log_softmax rows of 4096", shape_text({rws, cols}), 2 * fb * n,
             [&] { be.softmax_forward(out.view({rws, cols}), wide, rws, cols, 1, true); });
      report("softmax over dim 1 of [N, C, HW]", shape_text({n / (64 * 1024), 64, 1024}), 2 * fb * n,
             [&] { be.softmax_forward(out, x, n / (64 * 1024), 64, 1024, false); });
      Tensor gy = randn({batch, classes}, f32), gx = empty({batch, classes}, f32);
      report("softmax backward rows of 1000", shape_text({batch, classes}), 3 * fb * batch * classes,
             [&] { be.softmax_backward(gx, gy, probs, batch, classes, 1, false); });
    }
    be.synchronize(kGpu);

    std::printf("\nsummary (target: >= 80%% of copy bandwidth at these sizes)\n");
    for (const Row& r : rows) {
      std::printf("  %-34s %6.1f%%\n", r.name.c_str(), 100.0 * r.gbps / copy_gbps);
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "cuda_kernels_bench: %s\n", e.what());
    return 1;
  }
#endif
}
