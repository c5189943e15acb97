// cuDNN convolution: forward, backward data and backward filter (NCHW or
// channels-last NHWC, groups, dilation), and the CUDA backend's conv2d methods, which send
// depthwise convolutions to Ember's own kernel instead.
//
// Algorithm choice, cached per (device, pass, dtype, shapes, parameters,
// switches): cuDNN's heuristics rank the algorithms, or, with
// backend_config().cudnn_benchmark, cudnnFind*AlgorithmEx times all of them
// on the real tensors. The first that succeeds, is deterministic when
// backend_config().deterministic asks for it, and whose workspace can be
// allocated wins. Math: float32 runs in FMA math (true float32) unless
// backend_config().allow_tf32; float16 and bfloat16 use tensor cores with
// float accumulation; float64 is plain. The workspace is the growing
// per-stream buffer of cudnn_workspace() (caching allocator).
#include "kernels/cudnn/cudnn_conv.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>
#include <vector>

#include "engine/backend_config.h"
#include "engine/cuda/caching_allocator.h"
#include "engine/cuda/cuda_error.h"
#include "engine/cuda/cuda_graph.h"
#include "engine/cuda/cuda_stream.h"
#include "engine/cuda/cudnn_handle.h"
#include "kernels/cpu/conv_geometry.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cudnn/cudnn_descriptors.h"

namespace ember {
namespace {

enum class Pass { Forward, BackwardData, BackwardFilter };

const char* pass_name(Pass pass) {
  switch (pass) {
    case Pass::Forward: return "conv2d";
    case Pass::BackwardData: return "conv2d_backward_input";
    case Pass::BackwardFilter: return "conv2d_backward_weight";
  }
  return "conv2d";
}

struct ConvKey {
  int device, pass, dtype;
  int64_t N, C, H, W, OC, KH, KW, OH, OW;
  int64_t sh, sw, ph, pw, dh, dw, groups;
  bool tf32, deterministic, benchmark, channels_last;
  auto tie() const {
    return std::tie(device, pass, dtype, N, C, H, W, OC, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, groups, tf32,
                    deterministic, benchmark, channels_last);
  }
  bool operator<(const ConvKey& o) const { return tie() < o.tie(); }
};

struct ConvAlgo {
  int algo = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  size_t workspace = 0;
};

std::mutex& cache_mutex() {
  static std::mutex m;
  return m;
}
std::map<ConvKey, ConvAlgo>& algo_cache() {
  static auto* cache = new std::map<ConvKey, ConvAlgo>();
  return *cache;
}

// The descriptors of one call, and what decides its math mode.
struct ConvCall {
  Pass pass;
  int device;
  DType dtype;
  ConvGeometry g;
  cudnnHandle_t handle;
  TensorDescriptor x, y;
  FilterDescriptor w;
  ConvolutionDescriptor conv;
  bool fma_only;  // float32 without TF32: only FMA (true float32) algorithms

  ConvCall(Pass pass_, const Tensor& input, const Tensor& weight, const Tensor& out, const Conv2dParams& p)
      : pass(pass_), device(input.device().index), dtype(input.dtype()), g(input, weight, out, p),
        handle(cudnn_handle(device)) {
    const char* op = pass_name(pass);
    EMBER_CHECK(input.dtype() == weight.dtype() && weight.dtype() == out.dtype(), op,
                "input, weight and output must share one dtype");
    const cudnnTensorFormat_t format = p.channels_last ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    x.set(dtype, g.N, g.C, g.H, g.W, op, format);
    y.set(dtype, g.N, g.OC, g.OH, g.OW, op, format);
    w.set(dtype, g.OC, g.Cg, g.KH, g.KW, op, format);
    const cudnnDataType_t compute = dtype == DType::Float64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
    EMBER_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv.get(), cudnn_int(p.pad_h, op), cudnn_int(p.pad_w, op),
                                                      cudnn_int(p.stride_h, op), cudnn_int(p.stride_w, op),
                                                      cudnn_int(p.dilation_h, op), cudnn_int(p.dilation_w, op),
                                                      CUDNN_CROSS_CORRELATION, compute),
                      op);
    EMBER_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv.get(), cudnn_int(p.groups, op)), op);
    fma_only = dtype == DType::Float32 && !backend_config().allow_tf32;
    set_math(default_math());
  }

  cudnnMathType_t default_math() const {
    if (dtype == DType::Float32) return fma_only ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
    if (dtype == DType::Float64) return CUDNN_DEFAULT_MATH;
    return CUDNN_TENSOR_OP_MATH;
  }
  void set_math(cudnnMathType_t math) {
    EMBER_CUDNN_CHECK(cudnnSetConvolutionMathType(conv.get(), math), pass_name(pass));
  }
  // The math mode to run a ranked algorithm in (false: not allowed here).
  bool allowed_math(cudnnMathType_t reported, cudnnMathType_t& use) const {
    if (fma_only) {
      if (reported == CUDNN_TENSOR_OP_MATH || reported == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return false;
      use = CUDNN_FMA_MATH;
      return true;
    }
    use = reported;
    return true;
  }

  ConvKey key() const {
    const BackendConfig& cfg = backend_config();
    return {device, static_cast<int>(pass), static_cast<int>(dtype), g.N, g.C, g.H, g.W, g.OC, g.KH, g.KW, g.OH,
            g.OW, g.p.stride_h, g.p.stride_w, g.p.pad_h, g.p.pad_w, g.p.dilation_h, g.p.dilation_w, g.p.groups,
            !fma_only, cfg.deterministic, cfg.cudnn_benchmark, g.p.channels_last};
  }

  // The workspace `algo` needs under the current math type, or nothing where
  // cuDNN cannot say (that algorithm is then skipped, not the whole call).
  std::optional<size_t> workspace_size(int algo) {
    size_t bytes = 0;
    cudnnStatus_t st = CUDNN_STATUS_SUCCESS;
    switch (pass) {
      case Pass::Forward:
        st = cudnnGetConvolutionForwardWorkspaceSize(handle, x.get(), w.get(), conv.get(), y.get(),
                                                     static_cast<cudnnConvolutionFwdAlgo_t>(algo), &bytes);
        break;
      case Pass::BackwardData:
        st = cudnnGetConvolutionBackwardDataWorkspaceSize(handle, w.get(), y.get(), conv.get(), x.get(),
                                                          static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), &bytes);
        break;
      case Pass::BackwardFilter:
        st = cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, x.get(), y.get(), conv.get(), w.get(),
                                                            static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), &bytes);
        break;
    }
    if (st != CUDNN_STATUS_SUCCESS) return std::nullopt;
    return bytes;
  }

  std::string describe() const {
    return cat_str("(input [", g.N, ", ", g.C, ", ", g.H, ", ", g.W, "], weight [", g.OC, ", ", g.Cg, ", ", g.KH,
                   ", ", g.KW, "], stride (", g.p.stride_h, ", ", g.p.stride_w, "), padding (", g.p.pad_h, ", ",
                   g.p.pad_w, "), dilation (", g.p.dilation_h, ", ", g.p.dilation_w, "), groups ", g.p.groups, ", ",
                   dtype_name(dtype), g.p.channels_last ? ", channels-last" : "", ")");
  }
};

// A ranked algorithm as the three cuDNN perf structs report it.
struct Candidate {
  int algo;
  cudnnStatus_t status;
  cudnnDeterminism_t determinism;
  cudnnMathType_t math;
};

template <class Perf>
std::vector<Candidate> to_candidates(const std::vector<Perf>& perfs, int n) {
  std::vector<Candidate> out;
  for (int i = 0; i < n; ++i) {
    out.push_back({static_cast<int>(perfs[i].algo), perfs[i].status, perfs[i].determinism, perfs[i].mathType});
  }
  return out;
}

// cuDNN's heuristic ranking of the algorithms for this call.
std::vector<Candidate> heuristic_ranking(ConvCall& c) {
  const char* op = pass_name(c.pass);
  int max_count = 0, n = 0;
  switch (c.pass) {
    case Pass::Forward: {
      EMBER_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(c.handle, &max_count), op);
      std::vector<cudnnConvolutionFwdAlgoPerf_t> perfs(static_cast<size_t>(std::max(max_count, 1)));
      EMBER_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(c.handle, c.x.get(), c.w.get(), c.conv.get(), c.y.get(),
                                                               max_count, &n, perfs.data()),
                        op);
      return to_candidates(perfs, n);
    }
    case Pass::BackwardData: {
      EMBER_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(c.handle, &max_count), op);
      std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perfs(static_cast<size_t>(std::max(max_count, 1)));
      EMBER_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(c.handle, c.w.get(), c.y.get(), c.conv.get(),
                                                                    c.x.get(), max_count, &n, perfs.data()),
                        op);
      return to_candidates(perfs, n);
    }
    case Pass::BackwardFilter: {
      EMBER_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(c.handle, &max_count), op);
      std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perfs(static_cast<size_t>(std::max(max_count, 1)));
      EMBER_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(c.handle, c.x.get(), c.y.get(), c.conv.get(),
                                                                      c.w.get(), max_count, &n, perfs.data()),
                        op);
      return to_candidates(perfs, n);
    }
  }
  return {};
}

// The operands of one call: a is x (or w for backward data), b is w (or dy), out the result.
struct Operands {
  const void* a;
  const void* b;
  void* out;
};

// Times every algorithm on the real tensors (cudnn_benchmark). The workspace
// offered is the largest any heuristic candidate needs, halved until it can
// be allocated; algorithms needing more are reported as failed. It is a
// buffer of its own, back in the cache when the timing is done, so the
// per-stream workspace only ever grows to what a chosen algorithm needs (FFT
// candidates can ask for gigabytes that would otherwise stay taken).
std::vector<Candidate> measured_ranking(ConvCall& c, const Operands& ops) {
  const char* op = pass_name(c.pass);
  size_t want = 0;
  for (const Candidate& cand : heuristic_ranking(c)) {
    if (cand.status != CUDNN_STATUS_SUCCESS) continue;
    cudnnMathType_t math;
    if (!c.allowed_math(cand.math, math)) continue;
    c.set_math(math);
    want = std::max(want, c.workspace_size(cand.algo).value_or(0));
  }
  c.set_math(c.default_math());
  DeviceBuffer buffer;
  while (want > 0) {
    try {
      buffer = DeviceBuffer(c.device, want);
      break;
    } catch (const Error&) {
      want /= 2;
    }
  }
  void* ws = buffer.get();
  int max_count = 0, n = 0;
  switch (c.pass) {
    case Pass::Forward: {
      EMBER_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(c.handle, &max_count), op);
      std::vector<cudnnConvolutionFwdAlgoPerf_t> perfs(static_cast<size_t>(std::max(max_count, 1)));
      EMBER_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(c.handle, c.x.get(), ops.a, c.w.get(), ops.b,
                                                               c.conv.get(), c.y.get(), ops.out, max_count, &n,
                                                               perfs.data(), ws, want),
                        op);
      return to_candidates(perfs, n);
    }
    case Pass::BackwardData: {
      EMBER_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(c.handle, &max_count), op);
      std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perfs(static_cast<size_t>(std::max(max_count, 1)));
      EMBER_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(c.handle, c.w.get(), ops.a, c.y.get(), ops.b,
                                                                    c.conv.get(), c.x.get(), ops.out, max_count, &n,
                                                                    perfs.data(), ws, want),
                        op);
      return to_candidates(perfs, n);
    }
    case Pass::BackwardFilter: {
      EMBER_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(c.handle, &max_count), op);
      std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perfs(static_cast<size_t>(std::max(max_count, 1)));
      EMBER_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(c.handle, c.x.get(), ops.a, c.y.get(), ops.b,
                                                                      c.conv.get(), c.w.get(), ops.out, max_count,
                                                                      &n, perfs.data(), ws, want),
                        op);
      return to_candidates(perfs, n);
    }
  }
  return {};
}

// The cached choice for this call, or a new one.
ConvAlgo choose_algo(ConvCall& c, const Operands& ops) {
  const ConvKey key = c.key();
  {
    std::lock_guard<std::mutex> lock(cache_mutex());
    auto it = algo_cache().find(key);
    if (it != algo_cache().end()) return it->second;
  }
  const bool deterministic = backend_config().deterministic;
  // Timing runs the convolutions, which a graph capture cannot do: there the
  // heuristics choose, and the choice is not cached, so the next eager call
  // still times them. (Run a step eagerly before capturing to use timed choices.)
  const bool capturing = active_capture(c.device) != nullptr;
  const std::vector<Candidate> ranking =
      backend_config().cudnn_benchmark && !capturing ? measured_ranking(c, ops) : heuristic_ranking(c);
  for (const Candidate& cand : ranking) {
    if (cand.status != CUDNN_STATUS_SUCCESS) continue;
    if (deterministic && cand.determinism != CUDNN_DETERMINISTIC) continue;
    ConvAlgo choice;
    if (!c.allowed_math(cand.math, choice.math)) continue;
    choice.algo = cand.algo;
    c.set_math(choice.math);
    const std::optional<size_t> bytes = c.workspace_size(cand.algo);
    if (!bytes) continue;
    choice.workspace = *bytes;
    try {
      cudnn_workspace(c.device, choice.workspace);  // can it be allocated? (kept for the run)
    } catch (const Error&) {
      continue;  // out of memory: try an algorithm with a smaller workspace
    }
    if (capturing && backend_config().cudnn_benchmark) return choice;
    std::lock_guard<std::mutex> lock(cache_mutex());
    algo_cache()[key] = choice;
    return choice;
  }
  fail(pass_name(c.pass), "cuDNN offers no usable algorithm ", c.describe(),
       deterministic ? " (deterministic algorithms were requested)" : "");
}

// Runs one pass: out = conv(a, b) with the chosen algorithm.
void run_pass(Pass pass, const Tensor& input, const Tensor& weight, const Tensor& out_t, const Conv2dParams& p,
              const Operands& ops) {
  DeviceGuard guard(input.device().index);
  ConvCall c(pass, input, weight, out_t, p);
  const ConvAlgo choice = choose_algo(c, ops);
  c.set_math(choice.math);
  void* ws = cudnn_workspace(c.device, choice.workspace);
  const char* op = pass_name(pass);
  const float one_f = 1.0f, zero_f = 0.0f;
  const double one_d = 1.0, zero_d = 0.0;
  const void* alpha = c.dtype == DType::Float64 ? static_cast<const void*>(&one_d) : static_cast<const void*>(&one_f);
  const void* beta = c.dtype == DType::Float64 ? static_cast<const void*>(&zero_d) : static_cast<const void*>(&zero_f);
  cudnnStatus_t st = CUDNN_STATUS_SUCCESS;
  switch (pass) {
    case Pass::Forward:
      st = cudnnConvolutionForward(c.handle, alpha, c.x.get(), ops.a, c.w.get(), ops.b, c.conv.get(),
                                   static_cast<cudnnConvolutionFwdAlgo_t>(choice.algo), ws, choice.workspace, beta,
                                   c.y.get(), ops.out);
      break;
    case Pass::BackwardData:
      st = cudnnConvolutionBackwardData(c.handle, alpha, c.w.get(), ops.a, c.y.get(), ops.b, c.conv.get(),
                                        static_cast<cudnnConvolutionBwdDataAlgo_t>(choice.algo), ws, choice.workspace,
                                        beta, c.x.get(), ops.out);
      break;
    case Pass::BackwardFilter:
      st = cudnnConvolutionBackwardFilter(c.handle, alpha, c.x.get(), ops.a, c.y.get(), ops.b, c.conv.get(),
                                          static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice.algo), ws,
                                          choice.workspace, beta, c.w.get(), ops.out);
      break;
  }
  if (st != CUDNN_STATUS_SUCCESS) {
    fail(op, "cuDNN error ", cudnnGetErrorString(st), " running algorithm ", choice.algo, " ", c.describe());
  }
}

void zero(const Tensor& t) {
  if (t.numel() == 0) return;
  DeviceGuard guard(t.device().index);
  EMBER_CUDA_CHECK(cudaMemsetAsync(t.data_ptr(), 0, static_cast<size_t>(t.numel()) * t.element_size(),
                                   current_stream(t.device().index)),
                   "conv2d");
}

}  // namespace

void cudnn_conv2d_forward(const Tensor& out, const Tensor& input, const Tensor& weight, const Conv2dParams& p) {
  if (out.numel() == 0) return;
  run_pass(Pass::Forward, input, weight, out, p, {input.data_ptr(), weight.data_ptr(), out.data_ptr()});
}

void cudnn_conv2d_backward_input(const Tensor& grad_input, const Tensor& grad_out, const Tensor& weight,
                                 const Conv2dParams& p) {
  if (grad_input.numel() == 0) return;
  if (grad_out.numel() == 0) return zero(grad_input);
  run_pass(Pass::BackwardData, grad_input, weight, grad_out, p,
           {weight.data_ptr(), grad_out.data_ptr(), grad_input.data_ptr()});
}

void cudnn_conv2d_backward_weight(const Tensor& grad_weight, const Tensor& grad_out, const Tensor& input,
                                  const Conv2dParams& p) {
  if (grad_weight.numel() == 0) return;
  if (grad_out.numel() == 0 || input.numel() == 0) return zero(grad_weight);
  run_pass(Pass::BackwardFilter, input, grad_weight, grad_out, p,
           {input.data_ptr(), grad_out.data_ptr(), grad_weight.data_ptr()});
}

size_t cudnn_conv_cache_size() {
  std::lock_guard<std::mutex> lock(cache_mutex());
  return algo_cache().size();
}

// --- The CUDA backend's convolution methods ---


// Depthwise convolutions run Ember's NCHW kernel; a channels-last one runs
// it on NCHW copies (cuDNN takes every other channels-last convolution as is).
void CudaBackend::conv2d_forward(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                                 const Conv2dParams& p) {
  ConvGeometry g(input, weight, out, p);
  if (g.depthwise() && p.channels_last) {
    Tensor y = empty(out.shape(), TensorOptions(out.dtype(), out.device()));
    conv2d_forward(y, input.contiguous(), weight.contiguous(), bias, p.as_nchw());
    return copy(out, y);
  }
  if (g.depthwise()) return depthwise_conv2d_forward_cuda(out, input, weight, bias, g);
  cudnn_conv2d_forward(out, input, weight, p);
  if (bias.defined() && out.numel() > 0) {
    // out += bias[oc], broadcast over n, h, w (an in-place elementwise add, any layout).
    binary(out, out, bias.view({1, g.OC, 1, 1}).expand(out.shape()), BinaryOp::Add, {});
  }
}

void CudaBackend::conv2d_backward_input(const Tensor& grad_input, const Tensor& grad_out, const Tensor& weight,
                                        const Conv2dParams& p) {
  ConvGeometry g(grad_input, weight, grad_out, p);
  if (g.depthwise() && p.channels_last) {
    Tensor gx = empty(grad_input.shape(), TensorOptions(grad_input.dtype(), grad_input.device()));
    conv2d_backward_input(gx, grad_out.contiguous(), weight.contiguous(), p.as_nchw());
    return copy(grad_input, gx);
  }
  if (g.depthwise()) return depthwise_conv2d_backward_input_cuda(grad_input, grad_out, weight, g);
  cudnn_conv2d_backward_input(grad_input, grad_out, weight, p);
}

void CudaBackend::conv2d_backward_weight(const Tensor& grad_weight, const Tensor& grad_out, const Tensor& input,
                                         const Conv2dParams& p) {
  ConvGeometry g(input, grad_weight, grad_out, p);
  if (g.depthwise() && p.channels_last) {
    Tensor gw = empty(grad_weight.shape(), TensorOptions(grad_weight.dtype(), grad_weight.device()));
    conv2d_backward_weight(gw, grad_out.contiguous(), input.contiguous(), p.as_nchw());
    return copy(grad_weight, gw);
  }
  if (g.depthwise()) return depthwise_conv2d_backward_weight_cuda(grad_weight, grad_out, input, g);
  cudnn_conv2d_backward_weight(grad_weight, grad_out, input, p);
}

}  // namespace ember
