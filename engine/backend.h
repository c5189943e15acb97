// The contract every device backend implements: the primitive kernels that
// the op front-end (engine/ops) calls. The CPU backend (kernels/cpu) and the
// CUDA backend (kernels/cuda, kernels/cudnn, kernels/cublas) implement the
// same methods with the same meaning, so model and layer code never asks
// which device it runs on.
//
// Shared rules, unless a method says otherwise:
// - Outputs are allocated by the caller with the right shape, dtype and
//   device, contiguous; kernels only write them.
// - Inputs are contiguous and on the backend's device. The elementwise
//   methods (copy, unary, binary, where) instead accept any strides,
//   including 0 (a broadcast dimension), and out may be a strided view.
// - Channels-last (engine/memory_format.h): a convolution says so in its
//   params, and then all its tensors are channels-last; batch norm and
//   pooling read it off the input's strides (is_channels_last) and get
//   outputs and gradients in the input's layout. A backend without an NHWC
//   kernel for a call copies to NCHW and back.
// - Optional tensors are passed undefined when absent.
// - Kernels report bad values they find (a class index out of range) by
//   throwing ember::Error with the op name.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>

#include "engine/allocator.h"
#include "engine/tensor.h"

namespace ember {

enum class UnaryOp : uint8_t {
  Neg, Abs, Sign, Exp, Log, Log1p, Expm1, Sqrt, Rsqrt, Reciprocal, Square, Sin, Cos,
  Relu, Sigmoid, Tanh, Silu, Hardswish, Hardsigmoid, Gelu, GeluTanh, Softplus, Erf,
  Floor, Ceil, Round, LogicalNot,
  LeakyRelu,  // a = negative slope
  Clamp,      // a = min, b = max (either may be -inf/+inf)
  PowScalar,  // a = exponent
};

enum class BinaryOp : uint8_t {
  Add, Sub,  // a + alpha * b, a - alpha * b (alpha in params.a)
  Mul, Div, Pow, Maximum, Minimum,
  AddRelu,  // relu(a + b): a residual connection and its activation in one pass
  Eq, Ne, Lt, Le, Gt, Ge, LogicalAnd, LogicalOr,  // write a bool output
  // Backward helpers: out = grad * d(activation)/dx, with (grad, x) or (grad, y=output).
  ReluBackward,         // (g, y)
  SigmoidBackward,      // (g, y)
  TanhBackward,         // (g, y)
  SiluBackward,         // (g, x)
  HardswishBackward,    // (g, x)
  HardsigmoidBackward,  // (g, x)
  GeluBackward,         // (g, x)
  GeluTanhBackward,     // (g, x)
  SoftplusBackward,     // (g, x)
  LeakyReluBackward,    // (g, x), a = slope
  ClampBackward,        // (g, x), passes g where a <= x <= b
};

enum class ReduceOp : uint8_t { Sum, Mean, Max, Min, Prod };

// An activation applied in the same pass as the op that produces its input
// (batch norm's epilogue), so the pre-activation tensor is never written out.
// Relu6 follows nn.ReLU6 (hardtanh): its gradient passes where 0 < x < 6.
enum class FusedActivation : uint8_t { None, Relu, Relu6, Silu, Hardswish };

struct OpParams {
  double a = 1.0;
  double b = 0.0;
};

struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
  // Every tensor of the call (input, weight, output and their gradients) is
  // channels-last: NHWC activations and OHWI weights in memory.
  bool channels_last = false;
  // The same convolution on NCHW tensors (for a backend's NCHW fallback).
  Conv2dParams as_nchw() const {
    Conv2dParams p = *this;
    p.channels_last = false;
    return p;
  }
};

// An evaluation-mode batch norm folded into a convolution (conv2d_forward_batch_norm).
struct BatchNormEval {
  Tensor weight, bias;  // undefined without affine parameters
  Tensor running_mean, running_var;
  double eps = 1e-5;
};

struct Pool2dParams {
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;  // max pooling only
  bool ceil_mode = false;
  bool count_include_pad = true;  // average pooling only
  int64_t divisor_override = 0;   // average pooling only; 0: none
};

// The scalars of one fused optimizer step (formulas: kernels/optimizer_math.h).
struct SgdScalars {
  double lr, weight_decay, momentum, dampening;
  bool nesterov, init_buffer;  // init_buffer: the momentum buffer starts as this step's direction
};

struct AdamScalars {
  double lr, weight_decay, beta1, beta2, eps;
  double bias_correction1, bias_correction2;  // 1 - beta^t for this step t
  bool decoupled_weight_decay, amsgrad;       // AdamW; AMSGrad's running maximum
};

// One parameter of a fused optimizer step: the parameter, its gradient and
// its state tensors, all of the parameter's shape, dtype (float32 or
// float64) and device, and contiguous. SGD: state[0] is the momentum buffer
// (undefined without momentum). Adam: exp_avg, exp_avg_sq and, with
// AMSGrad, max_exp_avg_sq. "Contiguous" here means dense in one shared
// layout (NCHW or channels-last): the kernels walk them as flat arrays.
struct OptimizerParam {
  Tensor param, grad;
  Tensor state[3];
};

// Device work recorded once and run again with one launch (a CUDA graph;
// engine/cuda/cuda_graph.h says what a replay keeps fixed).
class DeviceGraph {
 public:
  virtual ~DeviceGraph() = default;
  virtual void replay() = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  virtual int device_count() const = 0;
  virtual Allocator& allocator(Device device) = 0;
  virtual void synchronize(Device device) = 0;
  // Page-locked host memory for fast asynchronous copies to this device, or
  // null when the backend has none (the CPU).
  virtual Allocator* pinned_host_allocator() { return nullptr; }

  // --- Memory ---
  // dst and src have the same shape; any strides; dtype converts.
  virtual void copy(const Tensor& dst, const Tensor& src) = 0;
  // Contiguous transfers between this device and the host.
  virtual void copy_from_host(const Tensor& dst, const void* src, size_t nbytes) = 0;
  virtual void copy_to_host(void* dst, const Tensor& src, size_t nbytes) = 0;
  virtual void fill(const Tensor& dst, Scalar value) = 0;  // any strides
  virtual void arange(const Tensor& dst, double start, double step) = 0;  // dst 1-D contiguous

  // --- Random numbers (counter-based Philox: value i depends on seed, offset and i only) ---
  virtual void random_uniform(const Tensor& dst, double low, double high, uint64_t seed, uint64_t offset) = 0;
  virtual void random_normal(const Tensor& dst, double mean, double std, uint64_t seed, uint64_t offset) = 0;
  // dst[i] = 1 with probability p, else 0.
  virtual void random_bernoulli(const Tensor& dst, double p, uint64_t seed, uint64_t offset) = 0;

  // --- Elementwise (any strides; inputs already broadcast to out's shape) ---
  virtual void unary(const Tensor& out, const Tensor& in, UnaryOp op, OpParams p) = 0;
  // a and b share a dtype; out has it too, or bool for comparisons.
  virtual void binary(const Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op, OpParams p) = 0;
  virtual void where(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) = 0;

  // --- Reductions ---
  // in is contiguous [outer, reduce, inner]; out is [outer, inner], same dtype.
  virtual void reduce(const Tensor& out, const Tensor& in, ReduceOp op, int64_t outer, int64_t reduce,
                      int64_t inner) = 0;
  // Max or Min along the middle dim with int64 indices of the first extreme.
  virtual void reduce_with_index(const Tensor& values, const Tensor& indices, const Tensor& in, ReduceOp op,
                                 int64_t outer, int64_t reduce, int64_t inner) = 0;

  // --- Linear algebra ---
  // out[b] = a[b] @ b[b]; a is [B, M, K], b is [B, K, N] with any batch stride
  // (0 broadcasts) and each matrix row- or column-major; out is [B, M, N].
  virtual void matmul(const Tensor& out, const Tensor& a, const Tensor& b) = 0;

  // --- Convolution (NCHW input, OIHW weight, groups) ---
  virtual void conv2d_forward(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                              const Conv2dParams& p) = 0;
  virtual void conv2d_backward_input(const Tensor& grad_input, const Tensor& grad_out, const Tensor& weight,
                                     const Conv2dParams& p) = 0;
  virtual void conv2d_backward_weight(const Tensor& grad_weight, const Tensor& grad_out, const Tensor& input,
                                      const Conv2dParams& p) = 0;
  virtual void conv2d_backward_bias(const Tensor& grad_bias, const Tensor& grad_out) = 0;
  // Inference: out = act(batch_norm_eval(conv2d(input, weight, bias)) + residual), the batch norm with its
  // running statistics, the residual optional (out's shape and layout; act is then None or ReLU). The CPU
  // applies the batch norm, the residual and the activation to each block of the output while it is in
  // cache; this default runs conv2d_forward, batch_norm_forward_eval and the add one after the other.
  virtual void conv2d_forward_batch_norm(const Tensor& out, const Tensor& input, const Tensor& weight,
                                         const Tensor& bias, const Conv2dParams& p, const BatchNormEval& bn,
                                         FusedActivation act, const Tensor& residual);
  // Inference, a pre-activation network's layer (DenseNet's norm1, relu1, conv1, norm2, relu2):
  // out = act(batch_norm_eval(conv2d(input_act(batch_norm_eval(input, input_bn)), weight), bn)), no
  // convolution bias. The CPU applies the input's batch norm and activation as a 1x1 convolution's
  // product packs its input; this default writes the normalised input, then runs
  // conv2d_forward_batch_norm.
  virtual void conv2d_forward_normalized_input(const Tensor& out, const Tensor& input, const BatchNormEval& input_bn,
                                               FusedActivation input_act, const Tensor& weight,
                                               const Conv2dParams& p, const BatchNormEval& bn, FusedActivation act);

  // --- Batch normalisation over [N, C, *] ---
  // Uses batch statistics; writes save_mean and save_invstd ([C], float32 for
  // 16-bit inputs) and updates the running stats in place when defined
  // (running_var with the unbiased variance), as torch.batch_norm does.
  // `act` is applied to the normalised result in the same pass.
  virtual void batch_norm_forward_train(const Tensor& out, const Tensor& save_mean, const Tensor& save_invstd,
                                        const Tensor& input, const Tensor& weight, const Tensor& bias,
                                        const Tensor& running_mean, const Tensor& running_var, double momentum,
                                        double eps, FusedActivation act) = 0;
  virtual void batch_norm_forward_eval(const Tensor& out, const Tensor& input, const Tensor& weight,
                                       const Tensor& bias, const Tensor& running_mean, const Tensor& running_var,
                                       double eps, FusedActivation act) = 0;
  // With train=true, mean/invstd are the saved batch statistics and the
  // gradient flows through them; with train=false they are the running
  // statistics (invstd = 1/sqrt(var + eps)) and act as constants. With an
  // `act`, grad_out is the gradient of the activation's output: the kernel
  // recomputes the pre-activation (x - mean) * invstd * weight + bias from
  // the input to take the activation's derivative.
  virtual void batch_norm_backward(const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias,
                                   const Tensor& grad_out, const Tensor& input, const Tensor& weight,
                                   const Tensor& bias, const Tensor& mean, const Tensor& invstd, bool train,
                                   FusedActivation act) = 0;

  // --- Pooling (NCHW) ---
  // indices: int64, the argmax's flat position h * W + w within its plane;
  // on the CPU, undefined when no backward will read them (inference): the
  // CPU then computes the values alone. Other devices always get them.
  virtual void max_pool2d_forward(const Tensor& out, const Tensor& indices, const Tensor& input,
                                  const Pool2dParams& p) = 0;
  virtual void max_pool2d_backward(const Tensor& grad_input, const Tensor& grad_out, const Tensor& indices) = 0;
  virtual void avg_pool2d_forward(const Tensor& out, const Tensor& input, const Pool2dParams& p) = 0;
  virtual void avg_pool2d_backward(const Tensor& grad_input, const Tensor& grad_out, const Pool2dParams& p) = 0;
  virtual void adaptive_avg_pool2d_forward(const Tensor& out, const Tensor& input) = 0;
  virtual void adaptive_avg_pool2d_backward(const Tensor& grad_input, const Tensor& grad_out) = 0;

  // --- Softmax over the middle dim of contiguous [outer, dim, inner] ---
  virtual void softmax_forward(const Tensor& out, const Tensor& in, int64_t outer, int64_t dim, int64_t inner,
                               bool log) = 0;
  // out is the forward result; grad_in = J^T grad_out.
  virtual void softmax_backward(const Tensor& grad_in, const Tensor& grad_out, const Tensor& out, int64_t outer,
                                int64_t dim, int64_t inner, bool log) = 0;

  // --- Negative log-likelihood on log-probabilities [N, C] ---
  // loss[n] = -w[t_n] * logp[n, t_n] and weight_used[n] = w[t_n] (both 0 when
  // t_n == ignore_index); w = 1 when weight is undefined. Throws if a target
  // is outside [0, C) and not ignore_index.
  virtual void nll_loss_forward(const Tensor& loss, const Tensor& weight_used, const Tensor& logp,
                                const Tensor& target, const Tensor& weight, int64_t ignore_index) = 0;
  // grad_logp (zeroed by the callee) [n, t_n] = -w[t_n] * grad_loss[n].
  virtual void nll_loss_backward(const Tensor& grad_logp, const Tensor& grad_loss, const Tensor& target,
                                 const Tensor& weight, int64_t ignore_index) = 0;

  // --- Fused softmax cross-entropy on logits [N, C] with class targets ---
  // With lse_n = log sum_c exp(x[n, c]), t = target[n], w the class weights
  // (1 when undefined) and e the label smoothing:
  //   loss[n] = (1 - e) w[t] (lse_n - x[n, t]) + e / C sum_c w[c] (lse_n - x[n, c])
  // weight_used[n] = w[t]; both 0 when t == ignore_index. lse (same dtype
  // as the logits, [N]) is kept for the backward. Throws if a target is
  // outside [0, C) and not ignore_index.
  virtual void cross_entropy_forward(const Tensor& loss, const Tensor& weight_used, const Tensor& lse,
                                     const Tensor& logits, const Tensor& target, const Tensor& weight,
                                     int64_t ignore_index, double label_smoothing) = 0;
  // grad_logits[n, c] = grad_loss[n] ((1 - e) w[t] (p - [c == t]) + e / C (p sum(w) - w[c])),
  // p = exp(x[n, c] - lse_n); rows of ignored targets are 0.
  virtual void cross_entropy_backward(const Tensor& grad_logits, const Tensor& grad_loss, const Tensor& logits,
                                      const Tensor& lse, const Tensor& target, const Tensor& weight,
                                      int64_t ignore_index, double label_smoothing) = 0;

  // --- Fused optimizer steps (kernels/optimizer_math.h) ---
  // Every listed parameter is updated in place in one pass over its
  // tensors (CUDA: a few launches for the whole list), instead of the
  // eight to ten elementwise passes the unfused formulas take.
  virtual void sgd_step(const std::vector<OptimizerParam>& params, const SgdScalars& s) = 0;
  virtual void adam_step(const std::vector<OptimizerParam>& params, const AdamScalars& s) = 0;

  // --- Mixed precision (engine/optim/grad_scaler.h) ---
  // Multiplies every gradient (dense in any layout, any floating dtype) in place by
  // inv_scale and sets found_inf (float32, one element, not cleared) to 1
  // when any value was inf or NaN before scaling, as
  // torch._amp_foreach_non_finite_check_and_unscale_ does. Asynchronous on
  // CUDA: the caller reads found_inf when it needs the answer.
  virtual void unscale_grads(const std::vector<Tensor>& grads, const Tensor& found_inf, double inv_scale) = 0;

  // --- Graphs ---
  // Records the work `fn` queues on `device` without running it, or returns
  // null where the backend has no graphs (the CPU runs every op as it comes).
  virtual std::unique_ptr<DeviceGraph> capture_graph(Device device, const std::function<void()>& fn) {
    (void)device;
    (void)fn;
    return nullptr;
  }
  // Whether capture_graph is recording `device`'s work on this thread now.
  virtual bool capturing(Device device) const {
    (void)device;
    return false;
  }
};

// The backend for a device; throws if that device type is unavailable
// ("cuda: Ember was built without CUDA" / "no CUDA device is present").
Backend& backend(Device device);
Backend& cpu_backend();
// The CUDA backend, or null when built without CUDA.
Backend* cuda_backend_or_null();

}  // namespace ember
