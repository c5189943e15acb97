#include "engine/ops/softmax.h"

#include "engine/autocast.h"
#include "engine/autograd/node.h"
#include "engine/backend.h"
#include "engine/error.h"

namespace ember {
namespace {

Tensor softmax_impl(const Tensor& x_in, int64_t dim_in, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  EMBER_CHECK(x_in.defined(), op, "got an undefined tensor");
  // Under autocast a 16-bit input runs in float32 (engine/autocast.h).
  Tensor x = is_floating(x_in.dtype()) ? autocast_to_float32(x_in) : x_in.to(DType::Float32);
  int64_t dim = wrap_dim(dim_in, x.dim(), op);
  Tensor xc = x.detach().contiguous();
  int64_t outer = 1, D = x.dim() == 0 ? 1 : x.size(dim), inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= x.size(d);
  for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.size(d);
  Tensor out = empty(x.shape(), TensorOptions(x.dtype(), x.device()));
  if (out.numel() > 0) backend(x.device()).softmax_forward(out, xc, outer, D, inner, log);
  if (any_requires_grad({x})) {
    record(log ? "LogSoftmaxBackward" : "SoftmaxBackward", out, {x},
           [so = Saved(out), outer, D, inner, log](const Tensor& g, const NeedsGrad&) {
             const Tensor& y = so.get();
             Tensor gx = empty(y.shape(), TensorOptions(y.dtype(), y.device()));
             if (gx.numel() > 0) backend(y.device()).softmax_backward(gx, g.contiguous(), y, outer, D, inner, log);
             return std::vector<Tensor>{gx};
           });
  }
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, true); }

}  // namespace ember
