// Elementwise front-end: type promotion, broadcasting, the backend call and
// the backward formula of each op (derivatives.yaml in PyTorch terms).
#include "engine/ops/elementwise.h"

#include <cmath>
#include <limits>

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/ops/inplace.h"
#include "engine/ops/reduce.h"

namespace ember {
namespace {

using Grads = std::vector<Tensor>;

bool is_comparison(BinaryOp op) {
  switch (op) {
    case BinaryOp::Eq: case BinaryOp::Ne: case BinaryOp::Lt: case BinaryOp::Le:
    case BinaryOp::Gt: case BinaryOp::Ge: case BinaryOp::LogicalAnd: case BinaryOp::LogicalOr:
      return true;
    default:
      return false;
  }
}

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  EMBER_CHECK(a.defined() && b.defined(), op, "got an undefined tensor");
  if (a.device() != b.device()) {
    fail(op, "expected both tensors on the same device, got ", a.device().str(), " (shape ", a.shape(), ") and ",
         b.device().str(), " (shape ", b.shape(), ")");
  }
}

Tensor detached_as(const Tensor& t, DType dtype) {
  Tensor d = t.detach();
  return d.dtype() == dtype ? d : d.to(dtype);
}

// The layout of an elementwise result of `shape`: channels-last when an
// operand of that full shape is (so NHWC stays NHWC through a network, as
// TensorIterator keeps it in PyTorch), NCHW otherwise.
MemoryFormat result_format(const Shape& shape, std::initializer_list<const Tensor*> operands) {
  for (const Tensor* t : operands)
    if (t->shape() == shape && is_channels_last(*t)) return MemoryFormat::ChannelsLast;
  return MemoryFormat::Contiguous;
}

// Broadcasts, promotes and runs a binary kernel; records nothing.
Tensor binary_kernel(const Tensor& a, const Tensor& b, BinaryOp op, const char* name, OpParams p = {}) {
  check_same_device(a, b, name);
  DType common = promote_types(a.dtype(), b.dtype());
  if (op == BinaryOp::Div && !is_floating(common)) common = DType::Float32;
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor x = detached_as(a, common).expand(shape);
  Tensor y = detached_as(b, common).expand(shape);
  Tensor out = empty(shape, TensorOptions(is_comparison(op) ? DType::Bool : common, a.device()),
                     result_format(shape, {&a, &b}));
  if (out.numel() > 0) backend(a.device()).binary(out, x, y, op, p);
  return out;
}

// Runs a unary kernel on x (cast to float32 first if `floating` and x is an
// integer tensor); records nothing.
Tensor unary_kernel(const Tensor& x, UnaryOp op, const char* name, OpParams p = {}, bool floating = false) {
  EMBER_CHECK(x.defined(), name, "got an undefined tensor");
  Tensor in = x.detach();
  if (floating && !is_floating(in.dtype())) in = in.to(DType::Float32);
  Tensor out = empty(in.shape(), TensorOptions(op == UnaryOp::LogicalNot ? DType::Bool : in.dtype(), in.device()),
                     suggest_memory_format(in));
  if (out.numel() > 0) backend(in.device()).unary(out, in, op, p);
  return out;
}

// The gradient of a broadcast input: summed back to its shape, in its dtype.
Tensor reduce_grad(const Tensor& g, const Shape& shape, DType dtype) {
  Tensor r = sum_to(g, shape);
  return r.dtype() == dtype ? r : r.to(dtype);
}

// Records a unary op whose gradient is f(g, saved) where saved is x or out.
template <class F>
void record_unary(const char* name, const Tensor& out, const Tensor& x, const Tensor& saved, F f) {
  if (!any_requires_grad({x})) return;
  record(name, out, {x}, [s = Saved(saved), f](const Tensor& g, const NeedsGrad&) -> Grads { return {f(g, s.get())}; });
}

// A unary op whose gradient is binary kernel `bwd` applied to (g, saved).
Tensor activation(const Tensor& x, UnaryOp op, BinaryOp bwd, const char* name, const char* node, bool save_out,
                  OpParams p = {}) {
  Tensor out = unary_kernel(x, op, name, p, true);
  record_unary(node, out, x, save_out ? out : x,
               [bwd, p](const Tensor& g, const Tensor& s) { return binary_kernel(g, s, bwd, "backward", p); });
  return out;
}

}  // namespace

Tensor wrap_scalar(Scalar value, const Tensor& like) {
  DType dtype = like.dtype();
  if (!is_floating(dtype)) {
    if (!value.is_integral()) dtype = DType::Float32;
    else if (dtype == DType::Bool) dtype = DType::Int64;
  }
  return scalar_tensor(value, TensorOptions(dtype, like.device()));
}

// --- Arithmetic ---

Tensor add(const Tensor& a, const Tensor& b, Scalar alpha) {
  Tensor out = binary_kernel(a, b, BinaryOp::Add, "add", {alpha.to_double()});
  if (any_requires_grad({a, b})) {
    record("AddBackward", out, {a, b},
           [sa = a.shape(), sb = b.shape(), da = a.dtype(), db = b.dtype(), alpha](const Tensor& g,
                                                                                 const NeedsGrad& needs) -> Grads {
             Tensor gb;
             if (needs[1]) gb = reduce_grad(alpha.to_double() == 1.0 ? g : mul(g, alpha), sb, db);
             return {needs[0] ? reduce_grad(g, sa, da) : Tensor(), gb};
           });
  }
  return out;
}

Tensor add_relu(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(a, b, BinaryOp::AddRelu, "add_relu");
  if (any_requires_grad({a, b})) {
    // Both inputs get the ReLU's gradient, taken from the output (which the
    // next layer keeps anyway): nothing else is saved.
    record("AddReluBackward", out, {a, b},
           [so = Saved(out), sa = a.shape(), sb = b.shape(), da = a.dtype(), db = b.dtype()](
               const Tensor& g, const NeedsGrad& needs) -> Grads {
             Tensor gr = binary_kernel(g, so.get(), BinaryOp::ReluBackward, "add_relu");
             return {needs[0] ? reduce_grad(gr, sa, da) : Tensor(), needs[1] ? reduce_grad(gr, sb, db) : Tensor()};
           });
  }
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b, Scalar alpha) {
  EMBER_CHECK(a.dtype() != DType::Bool || b.dtype() != DType::Bool, "sub", "subtraction of bool tensors is not supported");
  Tensor out = binary_kernel(a, b, BinaryOp::Sub, "sub", {alpha.to_double()});
  if (any_requires_grad({a, b})) {
    record("SubBackward", out, {a, b},
           [sa = a.shape(), sb = b.shape(), da = a.dtype(), db = b.dtype(), alpha](const Tensor& g,
                                                                                 const NeedsGrad& needs) -> Grads {
             Tensor gb;
             if (needs[1]) gb = reduce_grad(mul(g, -alpha.to_double()), sb, db);
             return {needs[0] ? reduce_grad(g, sa, da) : Tensor(), gb};
           });
  }
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(a, b, BinaryOp::Mul, "mul");
  if (any_requires_grad({a, b})) {
    record("MulBackward", out, {a, b},
           [sa = Saved(a), sb = Saved(b)](const Tensor& g, const NeedsGrad& needs) -> Grads {
             const Tensor& x = sa.get();
             const Tensor& y = sb.get();
             return {needs[0] ? reduce_grad(mul(g, y), x.shape(), x.dtype()) : Tensor(),
                     needs[1] ? reduce_grad(mul(g, x), y.shape(), y.dtype()) : Tensor()};
           });
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(a, b, BinaryOp::Div, "div");
  if (any_requires_grad({a, b})) {
    record("DivBackward", out, {a, b},
           [sa = a.shape(), da = a.dtype(), sb = Saved(b), so = Saved(out)](const Tensor& g,
                                                                             const NeedsGrad& needs) -> Grads {
             const Tensor& y = sb.get();
             Tensor ga, gb;
             if (needs[0]) ga = reduce_grad(div(g, y), sa, da);
             if (needs[1]) gb = reduce_grad(neg(div(mul(g, so.get()), y)), y.shape(), y.dtype());
             return {ga, gb};
           });
  }
  return out;
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(a, b, BinaryOp::Pow, "pow");
  if (any_requires_grad({a, b})) {
    record("PowBackward", out, {a, b},
           [sa = Saved(a), sb = Saved(b), so = Saved(out)](const Tensor& g, const NeedsGrad& needs) -> Grads {
             const Tensor& x = sa.get();
             const Tensor& y = sb.get();
             Tensor ga, gb;
             // d/dx x^y = y * x^(y-1), taken as 0 where y == 0 (as PyTorch does).
             if (needs[0]) ga = reduce_grad(where(eq(y, 0.0), 0.0, mul(g, mul(y, pow(x, sub(y, 1.0))))), x.shape(), x.dtype());
             // d/dy x^y = x^y * log(x), taken as 0 where x == 0 and y >= 0.
             if (needs[1]) {
               Tensor d = mul(g, mul(so.get(), log(x)));
               gb = reduce_grad(where(logical_and(eq(x, 0.0), ge(y, 0.0)), 0.0, d), y.shape(), y.dtype());
             }
             return {ga, gb};
           });
  }
  return out;
}

Tensor pow(const Tensor& a, Scalar exponent) {
  Tensor in = a;
  if (!is_floating(a.dtype()) && !exponent.is_integral()) in = a.to(DType::Float32);
  Tensor out = unary_kernel(in, UnaryOp::PowScalar, "pow", {exponent.to_double()});
  record_unary("PowBackward", out, a, a, [exponent](const Tensor& g, const Tensor& x) {
    double e = exponent.to_double();
    if (e == 0.0) return zeros_like(g);
    return mul(g, mul(pow(x, e - 1.0), e));
  });
  return out;
}

Tensor pow(Scalar base, const Tensor& exponent) { return pow(wrap_scalar(base, exponent), exponent); }

namespace {
// maximum/minimum: the gradient goes to the larger (smaller) input; ties split it.
Tensor extremum(const Tensor& a, const Tensor& b, bool is_max) {
  Tensor out = binary_kernel(a, b, is_max ? BinaryOp::Maximum : BinaryOp::Minimum, is_max ? "maximum" : "minimum");
  if (any_requires_grad({a, b})) {
    record(is_max ? "MaximumBackward" : "MinimumBackward", out, {a, b},
           [sa = Saved(a), sb = Saved(b), is_max](const Tensor& g, const NeedsGrad& needs) -> Grads {
             const Tensor& x = sa.get();
             const Tensor& y = sb.get();
             Tensor half = where(eq(x, y), div(g, 2.0), g);
             Tensor ga, gb;
             if (needs[0]) ga = reduce_grad(masked_fill(half, is_max ? lt(x, y) : gt(x, y), 0.0), x.shape(), x.dtype());
             if (needs[1]) gb = reduce_grad(masked_fill(half, is_max ? gt(x, y) : lt(x, y), 0.0), y.shape(), y.dtype());
             return {ga, gb};
           });
  }
  return out;
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum(a, b, true); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum(a, b, false); }

namespace {

// Whether a float16/bfloat16 tensor's dtype holds the scalar exactly. One it
// does not hold (1e-5, or 70000, past float16's 65504) would be rounded, or
// become inf, before the op; PyTorch computes such ops in float32 with the
// scalar as given and rounds the result once.
bool holds_exactly(DType dtype, Scalar b) {
  const double v = b.to_double();
  if (std::isnan(v)) return true;
  const float f = static_cast<float>(v);
  if (static_cast<double>(f) != v) return false;
  return dtype == DType::Float16 ? static_cast<float>(Half(f)) == f : static_cast<float>(BFloat16(f)) == f;
}

// a (op) b for a scalar b: in a's dtype, or for a 16-bit tensor and a scalar
// its dtype cannot hold, in float32 and rounded back once.
template <class Op>
Tensor with_scalar(const Tensor& a, Scalar b, Op op) {
  if (is_16bit_float(a.dtype()) && !holds_exactly(a.dtype(), b)) return op(a.to(DType::Float32), b).to(a.dtype());
  return op(a, wrap_scalar(b, a));
}

}  // namespace

Tensor add(const Tensor& a, Scalar b) {
  return with_scalar(a, b, [](const Tensor& x, const auto& y) { return add(x, y); });
}
Tensor sub(const Tensor& a, Scalar b) {
  return with_scalar(a, b, [](const Tensor& x, const auto& y) { return sub(x, y); });
}
Tensor mul(const Tensor& a, Scalar b) {
  return with_scalar(a, b, [](const Tensor& x, const auto& y) { return mul(x, y); });
}
Tensor div(const Tensor& a, Scalar b) {
  return with_scalar(a, b, [](const Tensor& x, const auto& y) { return div(x, y); });
}

// --- Comparisons ---

Tensor eq(const Tensor& a, const Tensor& b) { return binary_kernel(a, b, BinaryOp::Eq, "eq"); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_kernel(a, b, BinaryOp::Ne, "ne"); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_kernel(a, b, BinaryOp::Lt, "lt"); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_kernel(a, b, BinaryOp::Le, "le"); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_kernel(a, b, BinaryOp::Gt, "gt"); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_kernel(a, b, BinaryOp::Ge, "ge"); }
Tensor eq(const Tensor& a, Scalar b) { return eq(a, wrap_scalar(b, a)); }
Tensor ne(const Tensor& a, Scalar b) { return ne(a, wrap_scalar(b, a)); }
Tensor lt(const Tensor& a, Scalar b) { return lt(a, wrap_scalar(b, a)); }
Tensor le(const Tensor& a, Scalar b) { return le(a, wrap_scalar(b, a)); }
Tensor gt(const Tensor& a, Scalar b) { return gt(a, wrap_scalar(b, a)); }
Tensor ge(const Tensor& a, Scalar b) { return ge(a, wrap_scalar(b, a)); }
Tensor logical_and(const Tensor& a, const Tensor& b) { return binary_kernel(a, b, BinaryOp::LogicalAnd, "logical_and"); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return binary_kernel(a, b, BinaryOp::LogicalOr, "logical_or"); }
Tensor logical_not(const Tensor& a) { return unary_kernel(a, UnaryOp::LogicalNot, "logical_not"); }

// --- Unary math ---

Tensor neg(const Tensor& x) {
  EMBER_CHECK(x.dtype() != DType::Bool, "neg", "negation of a bool tensor is not supported; use logical_not");
  Tensor out = unary_kernel(x, UnaryOp::Neg, "neg");
  record("NegBackward", out, {x}, [](const Tensor& g, const NeedsGrad&) -> Grads { return {neg(g)}; });
  return out;
}

Tensor abs(const Tensor& x) {
  Tensor out = unary_kernel(x, UnaryOp::Abs, "abs");
  record_unary("AbsBackward", out, x, x, [](const Tensor& g, const Tensor& s) { return mul(g, sign(s)); });
  return out;
}

Tensor sign(const Tensor& x) {
  Tensor out = unary_kernel(x, UnaryOp::Sign, "sign");
  record("SignBackward", out, {x}, [](const Tensor& g, const NeedsGrad&) -> Grads { return {zeros_like(g)}; });
  return out;
}

Tensor exp(const Tensor& x) {
  Tensor out = unary_kernel(x, UnaryOp::Exp, "exp", {}, true);
  record_unary("ExpBackward", out, x, out, [](const Tensor& g, const Tensor& y) { return mul(g, y); });
  return out;
}

Tensor log(const Tensor& x) {
  Tensor out = unary_kernel(x, UnaryOp::Log, "log", {}, true);
  record_unary("LogBackward", out, x, x, [](const Tensor& g, const Tensor& s) { return div(g, s); });
  return out;
}

Tensor log1p(const Tensor& x) {
  Tensor out = unary_kernel(x, UnaryOp::Log1p, "log1p", {}, true);
  record_unary("Log1pBackward", out, x, x, [](const Tensor& g, const Tensor& s) { return div(g, add(s, 1.0)); });
  return out;
}

Tensor expm1(const Tensor& x) {
  Tensor out = unary_kernel(x, UnaryOp::Expm1, "expm1", {}, true);
  record_unary("Expm1Backward", out, x, out, [](const Tensor& g, const Tensor& y) { return mul(g, add(y, 1.0)); });
  return out;
}

Tensor sqrt(const Tensor& x) {
  Tensor out = unary_kernel(x, UnaryOp::Sqrt, "sqrt", {}, true);
  record_unary("SqrtBackward", out, x, out, [](const Tensor& g, const Tensor& y) { return div(g, mul(y, 2.0)); });
  return out;
}

Tensor rsqrt(const Tensor& x) {
  Tensor out = unary_kernel(x, UnaryOp::Rsqrt, "rsqrt", {}, true);
  record_unary("RsqrtBackward", out, x, out,
               [](const Tensor& g, const Tensor& y) { return mul(g, mul(pow(y, 3.0), -0.5)); });
  return out;
}

Tensor reciprocal(const Tensor& x) {
  Tensor out = unary_kernel(x, UnaryOp::Reciprocal, "reciprocal", {}, true);
  record_unary("ReciprocalBackward", out, x, out,
               [](const Tensor& g, const Tensor& y) { return neg(mul(g, mul(y, y))); });
  return out;
}

Tensor square(const Tensor& x) {
  Tensor out = unary_kernel(x, UnaryOp::Square, "square");
  record_unary("SquareBackward", out, x, x, [](const Tensor& g, const Tensor& s) { return mul(g, mul(s, 2.0)); });
  return out;
}

Tensor sin(const Tensor& x) {
  Tensor out = unary_kernel(x, UnaryOp::Sin, "sin", {}, true);
  record_unary("SinBackward", out, x, x, [](const Tensor& g, const Tensor& s) { return mul(g, cos(s)); });
  return out;
}

Tensor cos(const Tensor& x) {
  Tensor out = unary_kernel(x, UnaryOp::Cos, "cos", {}, true);
  record_unary("CosBackward", out, x, x, [](const Tensor& g, const Tensor& s) { return neg(mul(g, sin(s))); });
  return out;
}

Tensor erf(const Tensor& x) {
  Tensor out = unary_kernel(x, UnaryOp::Erf, "erf", {}, true);
  record_unary("ErfBackward", out, x, x, [](const Tensor& g, const Tensor& s) {
    return mul(g, mul(exp(neg(mul(s, s))), 2.0 / std::sqrt(M_PI)));
  });
  return out;
}

namespace {
Tensor rounding(const Tensor& x, UnaryOp op, const char* name, const char* node) {
  if (!is_floating(x.dtype())) return x.clone();
  Tensor out = unary_kernel(x, op, name);
  record(node, out, {x}, [](const Tensor& g, const NeedsGrad&) -> Grads { return {zeros_like(g)}; });
  return out;
}
}  // namespace

Tensor floor(const Tensor& x) { return rounding(x, UnaryOp::Floor, "floor", "FloorBackward"); }
Tensor ceil(const Tensor& x) { return rounding(x, UnaryOp::Ceil, "ceil", "CeilBackward"); }
Tensor round(const Tensor& x) { return rounding(x, UnaryOp::Round, "round", "RoundBackward"); }

// --- Activations ---

Tensor relu(const Tensor& x) {
  Tensor out = unary_kernel(x, UnaryOp::Relu, "relu");
  record_unary("ReluBackward", out, x, out,
               [](const Tensor& g, const Tensor& y) { return binary_kernel(g, y, BinaryOp::ReluBackward, "relu"); });
  return out;
}

Tensor sigmoid(const Tensor& x) {
  return activation(x, UnaryOp::Sigmoid, BinaryOp::SigmoidBackward, "sigmoid", "SigmoidBackward", true);
}
Tensor tanh(const Tensor& x) { return activation(x, UnaryOp::Tanh, BinaryOp::TanhBackward, "tanh", "TanhBackward", true); }
Tensor silu(const Tensor& x) { return activation(x, UnaryOp::Silu, BinaryOp::SiluBackward, "silu", "SiluBackward", false); }
Tensor hardswish(const Tensor& x) {
  return activation(x, UnaryOp::Hardswish, BinaryOp::HardswishBackward, "hardswish", "HardswishBackward", false);
}
Tensor hardsigmoid(const Tensor& x) {
  return activation(x, UnaryOp::Hardsigmoid, BinaryOp::HardsigmoidBackward, "hardsigmoid", "HardsigmoidBackward",
                    false);
}
Tensor softplus(const Tensor& x) {
  return activation(x, UnaryOp::Softplus, BinaryOp::SoftplusBackward, "softplus", "SoftplusBackward", false);
}
Tensor leaky_relu(const Tensor& x, double negative_slope) {
  return activation(x, UnaryOp::LeakyRelu, BinaryOp::LeakyReluBackward, "leaky_relu", "LeakyReluBackward", false,
                    {negative_slope, 0.0});
}

Tensor gelu(const Tensor& x, const std::string& approximate) {
  if (approximate == "none") return activation(x, UnaryOp::Gelu, BinaryOp::GeluBackward, "gelu", "GeluBackward", false);
  if (approximate == "tanh") {
    return activation(x, UnaryOp::GeluTanh, BinaryOp::GeluTanhBackward, "gelu", "GeluBackward", false);
  }
  fail("gelu", "approximate must be 'none' or 'tanh', got '", approximate, "'");
}

Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max) {
  EMBER_CHECK(min || max, "clamp", "at least one of min and max must be given");
  double lo = min ? min->to_double() : -std::numeric_limits<double>::infinity();
  double hi = max ? max->to_double() : std::numeric_limits<double>::infinity();
  bool float_bound = (min && !min->is_integral()) || (max && !max->is_integral());
  Tensor in = (float_bound && !is_floating(x.dtype())) ? x.to(DType::Float32) : x;
  if (!is_floating(in.dtype()) && in.dtype() != DType::Bool) {
    // An integer bound outside the tensor's range would wrap when cast to it
    // (min=-1 on uint8 becomes 255); PyTorch refuses it the same way.
    const double type_lo = in.dtype() == DType::UInt8 ? 0.0 : in.dtype() == DType::Int32 ? -2147483648.0 : -9223372036854775808.0;
    const double type_hi = in.dtype() == DType::UInt8 ? 255.0 : in.dtype() == DType::Int32 ? 2147483647.0 : 9223372036854775807.0;
    for (const auto& bound : {min, max}) {
      EMBER_CHECK(!bound || (bound->to_double() >= type_lo && bound->to_double() <= type_hi), "clamp", "bound ",
                  bound->to_double(), " cannot be converted to ", dtype_name(in.dtype()), " without overflow");
    }
  }
  Tensor out = unary_kernel(in, UnaryOp::Clamp, "clamp", {lo, hi});
  record_unary("ClampBackward", out, x, x, [lo, hi](const Tensor& g, const Tensor& s) {
    return binary_kernel(g, s, BinaryOp::ClampBackward, "clamp", {lo, hi});
  });
  return out;
}

Tensor clamp_min(const Tensor& x, Scalar min) { return clamp(x, min, std::nullopt); }
Tensor clamp_max(const Tensor& x, Scalar max) { return clamp(x, std::nullopt, max); }
Tensor relu6(const Tensor& x) { return clamp(x, 0.0, 6.0); }

// --- Selection ---

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_same_device(cond, a, "where");
  check_same_device(a, b, "where");
  EMBER_CHECK(cond.dtype() == DType::Bool, "where", "the condition must be a bool tensor, got ", dtype_name(cond.dtype()));
  DType common = promote_types(a.dtype(), b.dtype());
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = empty(shape, TensorOptions(common, a.device()), result_format(shape, {&a, &b}));
  if (out.numel() > 0) {
    backend(a.device()).where(out, cond.detach().expand(shape), detached_as(a, common).expand(shape),
                              detached_as(b, common).expand(shape));
  }
  if (any_requires_grad({a, b})) {
    record("WhereBackward", out, {a, b},
           [c = Saved(cond), sa = a.shape(), sb = b.shape(), da = a.dtype(), db = b.dtype()](
               const Tensor& g, const NeedsGrad& needs) -> Grads {
             Tensor zero = zeros({}, TensorOptions(g.dtype(), g.device()));
             Tensor ga, gb;
             if (needs[0]) ga = reduce_grad(where(c.get(), g, zero), sa, da);
             if (needs[1]) gb = reduce_grad(where(c.get(), zero, g), sb, db);
             return {ga, gb};
           });
  }
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, Scalar b) { return where(cond, a, wrap_scalar(b, a)); }
Tensor where(const Tensor& cond, Scalar a, const Tensor& b) { return where(cond, wrap_scalar(a, b), b); }
Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value) {
  Tensor filled = where(mask, scalar_tensor(value, TensorOptions(x.dtype(), x.device())), x);
  return filled;
}

// --- Operators ---

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, Scalar b) { return add(a, b); }
Tensor operator-(const Tensor& a, Scalar b) { return sub(a, b); }
Tensor operator*(const Tensor& a, Scalar b) { return mul(a, b); }
Tensor operator/(const Tensor& a, Scalar b) { return div(a, b); }
Tensor operator+(Scalar a, const Tensor& b) { return add(b, a); }
Tensor operator-(Scalar a, const Tensor& b) { return sub(wrap_scalar(a, b), b); }
Tensor operator*(Scalar a, const Tensor& b) { return mul(b, a); }
Tensor operator/(Scalar a, const Tensor& b) { return div(wrap_scalar(a, b), b); }
Tensor operator-(const Tensor& x) { return neg(x); }

// --- In-place methods of Tensor ---

namespace {
// Checks that `other` can be written into `self` in place (shape, device, dtype).
Tensor inplace_operand(const Tensor& self, const Tensor& other, const char* op) {
  check_same_device(self, other, op);
  Shape shape = broadcast_shapes(self.shape(), other.shape(), op);
  EMBER_CHECK(shape == self.shape(), op, "the result of shape ", shape, " does not fit the tensor of shape ",
              self.shape(), " it would be written into");
  DType result = promote_types(self.dtype(), other.dtype());
  EMBER_CHECK(result == self.dtype() || (is_floating(self.dtype()) || !is_floating(result)), op, "result type ",
              dtype_name(result), " cannot be cast to the tensor's type ", dtype_name(self.dtype()));
  return detached_as(other, self.dtype()).expand(self.shape());
}

void run_inplace(Tensor& self, const Tensor& other, BinaryOp op, const char* name, OpParams p = {}) {
  Tensor y = inplace_operand(self, other, name);
  if (self.numel() > 0) backend(self.device()).binary(self, self.detach(), y, op, p);
  mark_written(self);
}
}  // namespace

Tensor& Tensor::add_(const Tensor& other, Scalar alpha) {
  check_inplace(*this, other, "add_");
  run_inplace(*this, other, BinaryOp::Add, "add_", {alpha.to_double()});
  record_inplace("AddBackward", *this, {other},
                 [so = other.shape(), dt = other.dtype(), alpha](const Tensor& g, const NeedsGrad& needs) -> Grads {
                   return {needs[0] ? g : Tensor(), needs[1] ? reduce_grad(mul(g, alpha), so, dt) : Tensor()};
                 });
  return *this;
}

Tensor& Tensor::sub_(const Tensor& other, Scalar alpha) {
  return add_(other, alpha.is_integral() ? Scalar(-alpha.to_int()) : Scalar(-alpha.to_double()));
}

Tensor& Tensor::add_(Scalar other) { return add_(wrap_scalar(other, *this)); }

Tensor& Tensor::mul_(const Tensor& other) {
  check_inplace(*this, other, "mul_");
  // The old value is needed for other's gradient.
  Tensor old = (grad_mode_enabled() && other.requires_grad()) ? detach().clone() : Tensor();
  run_inplace(*this, other, BinaryOp::Mul, "mul_");
  if (any_requires_grad({*this, other})) {
    record_inplace("MulBackward", *this, {other},
                   [so = Saved(other), old](const Tensor& g, const NeedsGrad& needs) -> Grads {
                     const Tensor& y = so.get();
                     return {needs[0] ? mul(g, y) : Tensor(),
                             needs[1] ? reduce_grad(mul(g, old), y.shape(), y.dtype()) : Tensor()};
                   });
  }
  return *this;
}

Tensor& Tensor::mul_(Scalar other) { return mul_(wrap_scalar(other, *this)); }

Tensor& Tensor::div_(const Tensor& other) {
  EMBER_CHECK(is_floating(dtype()), "div_", "true division cannot write into a ", dtype_name(dtype()), " tensor");
  check_inplace(*this, other, "div_");
  run_inplace(*this, other, BinaryOp::Div, "div_");
  if (any_requires_grad({*this, other})) {
    record_inplace("DivBackward", *this, {other},
                   [so = Saved(other), out = Saved(*this)](const Tensor& g, const NeedsGrad& needs) -> Grads {
                     const Tensor& y = so.get();
                     return {needs[0] ? div(g, y) : Tensor(),
                             needs[1] ? reduce_grad(neg(div(mul(g, out.get()), y)), y.shape(), y.dtype()) : Tensor()};
                   });
  }
  return *this;
}

Tensor& Tensor::div_(Scalar other) { return div_(wrap_scalar(other, *this)); }

Tensor& Tensor::clamp_(Scalar min, Scalar max) {
  check_inplace(*this, Tensor(), "clamp_");
  double lo = min.to_double(), hi = max.to_double();
  // The mask of passed-through entries must be taken before the values change.
  Tensor mask = (grad_mode_enabled() && requires_grad()) ? logical_and(ge(detach(), min), le(detach(), max)) : Tensor();
  if (numel() > 0) backend(device()).unary(*this, detach(), UnaryOp::Clamp, {lo, hi});
  mark_written(*this);
  if (mask.defined()) {
    record_inplace("ClampBackward", *this, {}, [mask](const Tensor& g, const NeedsGrad&) -> Grads {
      return {where(mask, g, 0.0)};
    });
  }
  return *this;
}

Tensor& Tensor::relu_() {
  check_inplace(*this, Tensor(), "relu_");
  if (numel() > 0) backend(device()).unary(*this, detach(), UnaryOp::Relu, {});
  mark_written(*this);
  if (any_requires_grad({*this})) {
    record_inplace("ReluBackward", *this, {}, [out = Saved(*this)](const Tensor& g, const NeedsGrad&) -> Grads {
      return {binary_kernel(g, out.get(), BinaryOp::ReluBackward, "relu_")};
    });
  }
  return *this;
}

}  // namespace ember
