// Fused, multi-tensor optimizer steps on CUDA: the update formulas of
// kernels/optimizer_math.h (shared with the CPU backend), one thread per
// element, and a whole list of parameters in as few launches as possible
// (the idea of apex's multi_tensor_apply and torch's fused Adam).
// Launch shape: each launch carries, as its kernel argument, a table of up
// to kMaxTensors tensors (pointers and sizes) and up to kMaxBlocks
// (tensor, chunk) pairs; block b updates elements [chunk * kChunk,
// (chunk + 1) * kChunk) of its tensor, its 256 threads striding through
// them. The host fills a table until either part is full, launches it and
// starts the next; a tensor whose chunks do not fit goes on in the next
// table. ResNet-50's 161 parameters take 5 launches; the unfused Adam took
// about 1,600.
// Memory traffic per element: SGD reads p, g (and the momentum buffer) and
// writes p (and the buffer), 2-4 x sizeof(T); Adam reads p, g, m, v (vmax)
// and writes p, m, v (vmax), 7-9 x sizeof(T).
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/device_types.cuh"
#include "kernels/optimizer_math.h"

namespace ember {
namespace {

constexpr int kMaxTensors = 40, kMaxBlocks = 320, kThreads = 256;
constexpr int64_t kChunk = 65536;

// Lists: 0 parameter, 1 gradient, 2-4 state (null where unused). 3.5 KB,
// with the scalars under the 4 KB a kernel's arguments may take.
struct TensorTable {
  void* ptr[5][kMaxTensors];
  int64_t numel[kMaxTensors];
  uint8_t tensor[kMaxBlocks];
  int32_t chunk[kMaxBlocks];
};

static_assert(sizeof(TensorTable) + sizeof(math::AdamConstants<double>) <= 4096, "kernel arguments over 4 KB");

struct BlockRange {
  int tensor;
  int64_t begin, end;
};

__device__ BlockRange block_range(const TensorTable& t) {
  const int ti = t.tensor[blockIdx.x];
  const int64_t begin = static_cast<int64_t>(t.chunk[blockIdx.x]) * kChunk;
  return {ti, begin, min(t.numel[ti], begin + kChunk)};
}

template <class T>
__global__ void sgd_kernel(TensorTable t, math::SgdConstants<T> c) {
  const BlockRange r = block_range(t);
  T* p = static_cast<T*>(t.ptr[0][r.tensor]);
  const T* g = static_cast<const T*>(t.ptr[1][r.tensor]);
  T* buf = static_cast<T*>(t.ptr[2][r.tensor]);
  for (int64_t i = r.begin + threadIdx.x; i < r.end; i += blockDim.x) {
    T b = c.has_momentum && !c.init_buffer ? buf[i] : T(0);  // a new buffer is never read
    math::sgd_update(p[i], g[i], b, c);
    if (c.has_momentum) buf[i] = b;
  }
}

template <class T, bool kAmsgrad>
__global__ void adam_kernel(TensorTable t, math::AdamConstants<T> c) {
  const BlockRange r = block_range(t);
  T* p = static_cast<T*>(t.ptr[0][r.tensor]);
  const T* g = static_cast<const T*>(t.ptr[1][r.tensor]);
  T* m = static_cast<T*>(t.ptr[2][r.tensor]);
  T* v = static_cast<T*>(t.ptr[3][r.tensor]);
  T* vmax = static_cast<T*>(t.ptr[4][r.tensor]);
  for (int64_t i = r.begin + threadIdx.x; i < r.end; i += blockDim.x) {
    T vm = kAmsgrad ? vmax[i] : T(0);
    math::adam_update<T, kAmsgrad>(p[i], g[i], m[i], v[i], vm, c);
    if (kAmsgrad) vmax[i] = vm;
  }
}

void* pointer_or_null(const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }

// Calls launch(table, blocks) for successive tables covering every element
// of the parameters of type `dtype` in `params`.
template <class Launch>
void for_each_table(const std::vector<OptimizerParam>& params, DType dtype, Launch&& launch) {
  TensorTable table{};
  int tensors = 0, blocks = 0;
  for (const OptimizerParam& e : params) {
    const int64_t n = e.param.numel();
    if (e.param.dtype() != dtype || n == 0) continue;
    if (tensors == kMaxTensors) {
      launch(table, blocks);
      tensors = blocks = 0;
    }
    int slot = tensors++;
    const Tensor* lists[5] = {&e.param, &e.grad, &e.state[0], &e.state[1], &e.state[2]};
    for (int l = 0; l < 5; ++l) table.ptr[l][slot] = pointer_or_null(*lists[l]);
    table.numel[slot] = n;
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    for (int64_t c = 0; c < chunks; ++c) {
      table.tensor[blocks] = static_cast<uint8_t>(slot);
      table.chunk[blocks] = static_cast<int32_t>(c);
      if (++blocks < kMaxBlocks) continue;
      launch(table, blocks);
      blocks = 0;
      tensors = 0;
      if (c + 1 < chunks) {  // the rest of this tensor starts the next table
        for (int l = 0; l < 5; ++l) table.ptr[l][0] = table.ptr[l][slot];
        table.numel[0] = n;
        slot = 0;
        tensors = 1;
      }
    }
  }
  if (blocks > 0) launch(table, blocks);
}

// Runs step<T> over the float32 and then the float64 parameters of the list.
template <class Kernel>
void run_step(const std::vector<OptimizerParam>& params, const char* op, Kernel&& kernel) {
  if (params.empty()) return;
  KernelContext ctx(params.front().param);
  for (const OptimizerParam& e : params) {
    EMBER_CHECK(e.param.device() == params.front().param.device(), op, "every parameter must be on ",
                params.front().param.device().str(), ", got one on ", e.param.device().str());
    EMBER_CHECK(e.param.dtype() == DType::Float32 || e.param.dtype() == DType::Float64, op,
                "parameters must be float32 or float64, got ", dtype_name(e.param.dtype()));
  }
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for_each_table(params, dtype, [&](const TensorTable& table, int blocks) {
      kernel(dtype, table, blocks, ctx.stream);
      EMBER_CUDA_CHECK_LAUNCH(op, cat_str("(", params.size(), " parameters)"));
    });
  }
}

}  // namespace

void CudaBackend::sgd_step(const std::vector<OptimizerParam>& params, const SgdScalars& s) {
  run_step(params, "sgd_step", [&](DType dtype, const TensorTable& t, int blocks, cudaStream_t stream) {
    dispatch_float_double(dtype, "sgd_step", [&]<class T>() {
      sgd_kernel<T><<<blocks, kThreads, 0, stream>>>(t, math::sgd_constants<T>(s));
    });
  });
}

void CudaBackend::adam_step(const std::vector<OptimizerParam>& params, const AdamScalars& s) {
  run_step(params, "adam_step", [&](DType dtype, const TensorTable& t, int blocks, cudaStream_t stream) {
    dispatch_float_double(dtype, "adam_step", [&]<class T>() {
      const math::AdamConstants<T> c = math::adam_constants<T>(s);
      if (s.amsgrad) {
        adam_kernel<T, true><<<blocks, kThreads, 0, stream>>>(t, c);
      } else {
        adam_kernel<T, false><<<blocks, kThreads, 0, stream>>>(t, c);
      }
    });
  });
}

}  // namespace ember
