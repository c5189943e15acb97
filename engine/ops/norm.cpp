#include "engine/ops/norm.h"

#include "engine/autograd/node.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"

namespace ember {
namespace {

void check_channel_tensor(const Tensor& t, int64_t C, const Tensor& x, const char* name) {
  if (!t.defined()) return;
  EMBER_CHECK(t.dim() == 1 && t.size(0) == C, "batch_norm", name, " of shape ", t.shape(), " does not match the ", C,
              " channels of the input of shape ", x.shape());
  EMBER_CHECK(t.device() == x.device(), "batch_norm", name, " is on ", t.device().str(), " but the input is on ",
              x.device().str());
  // Mixed precision keeps the parameters and statistics of a 16-bit input in float32.
  const bool mixed = is_16bit_float(x.dtype()) && t.dtype() == DType::Float32;
  EMBER_CHECK(t.dtype() == x.dtype() || mixed, "batch_norm", name, " is ", dtype_name(t.dtype()), " but the input is ",
              dtype_name(x.dtype()), " (a 16-bit input may have float32 parameters; nothing else mixes)");
}

Tensor contiguous_or_undefined(const Tensor& t) { return t.defined() ? t.detach().contiguous() : Tensor(); }

}  // namespace

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps, FusedActivation act) {
  const char* op = "batch_norm";
  EMBER_CHECK(input.defined(), op, "got an undefined input");
  EMBER_CHECK(input.dim() >= 2, op, "expected an input of at least 2 dims [N, C, ...], got shape ", input.shape());
  EMBER_CHECK(is_floating(input.dtype()), op, "needs a floating-point input, got ", dtype_name(input.dtype()));
  const int64_t C = input.size(1);
  check_channel_tensor(weight, C, input, "weight");
  check_channel_tensor(bias, C, input, "bias");
  check_channel_tensor(running_mean, C, input, "running_mean");
  check_channel_tensor(running_var, C, input, "running_var");
  EMBER_CHECK(running_mean.defined() == running_var.defined(), op,
              "running_mean and running_var must be given together");
  if (training) {
    int64_t per_channel = input.numel() / std::max<int64_t>(C, 1);
    EMBER_CHECK(per_channel > 1, op, "expected more than 1 value per channel when training, got input of shape ",
                input.shape());
  } else {
    EMBER_CHECK(running_mean.defined(), op, "evaluation mode needs running_mean and running_var");
  }

  Backend& be = backend(input.device());
  // A channels-last input stays so: the backend reads the layout off x.
  const MemoryFormat format = suggest_memory_format(input);
  Tensor x = input.detach().contiguous(format);
  Tensor w = contiguous_or_undefined(weight), b = contiguous_or_undefined(bias);
  Tensor out = empty(x.shape(), TensorOptions(x.dtype(), x.device()), format);
  DType stat_dtype = x.dtype() == DType::Float64 ? DType::Float64 : DType::Float32;
  Tensor mean, invstd;
  if (training) {
    mean = empty({C}, TensorOptions(stat_dtype, x.device()));
    invstd = empty({C}, TensorOptions(stat_dtype, x.device()));
    // The running stats are updated in place: work on contiguous ones, then copy back if needed.
    Tensor rm = contiguous_or_undefined(running_mean), rv = contiguous_or_undefined(running_var);
    be.batch_norm_forward_train(out, mean, invstd, x, w, b, rm, rv, momentum, eps, act);
    if (running_mean.defined()) {
      if (!rm.is_same(running_mean) && rm.data_ptr() != running_mean.data_ptr()) running_mean.detach().copy_(rm);
      if (!rv.is_same(running_var) && rv.data_ptr() != running_var.data_ptr()) running_var.detach().copy_(rv);
      mark_written(running_mean);
      mark_written(running_var);
    }
  } else {
    Tensor rm = running_mean.detach().contiguous(), rv = running_var.detach().contiguous();
    be.batch_norm_forward_eval(out, x, w, b, rm, rv, eps, act);
    if (any_requires_grad({input, weight, bias})) {
      mean = rm.clone();
      invstd = rsqrt(add(rv, eps));  // constants for the backward
    }
  }

  if (any_requires_grad({input, weight, bias})) {
    // With a fused activation only the input is saved: the backward recomputes
    // the pre-activation from it, so neither it nor the output is kept.
    record(act == FusedActivation::None ? "BatchNormBackward" : "BatchNormActivationBackward", out,
           {input, weight, bias},
           [sx = Saved(x), sw = Saved(w), sb = Saved(b), mean, invstd, training, act, format](
               const Tensor& g, const NeedsGrad& needs) {
             const Tensor& xs = sx.get();
             Backend& be = backend(g.device());
             std::vector<Tensor> grads(3);
             if (needs[0]) grads[0] = empty(xs.shape(), TensorOptions(xs.dtype(), xs.device()), format);
             int64_t C = xs.size(1);
             // Parameter gradients in the parameters' own type (float32 under autocast).
             const DType param_dtype = sw.get().defined() ? sw.get().dtype() : xs.dtype();
             if (needs[1]) grads[1] = empty({C}, TensorOptions(param_dtype, xs.device()));
             if (needs[2]) grads[2] = empty({C}, TensorOptions(param_dtype, xs.device()));
             be.batch_norm_backward(grads[0], grads[1], grads[2], g.contiguous(format), xs, sw.get(), sb.get(), mean,
                                    invstd, training, act);
             return grads;
           });
  }
  return out;
}

}  // namespace ember
