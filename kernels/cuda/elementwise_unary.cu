// CUDA unary elementwise ops: out[i] = f(in[i]) for every UnaryOp, any strides.
// Each op is a small functor over the compute type (float for 16-bit floats),
// mostly a formula from kernels/elementwise_math.h shared with the CPU; the
// loops, broadcasting and vectorisation are elementwise.cuh's.
// Launch shape: grid-stride loops of 256-thread blocks, VEC elements per
// thread on the flat path. Memory traffic: sizeof(in) read + sizeof(out)
// written per element.
#include <cmath>
#include <limits>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/elementwise_math.h"

namespace ember {
namespace {

// Converts the stored value to the compute type and applies Op.
template <class T, class Op>
struct UnaryFn {
  Op op;
  __device__ auto operator()(T x) const { return op(cast<acc_t<T>>(x)); }
};

// Ops valid for every dtype.
struct NegOp {
  template <class C> __device__ C operator()(C x) const { return static_cast<C>(-x); }
};
struct AbsOp {
  template <class C> __device__ C operator()(C x) const {
    if constexpr (std::is_unsigned_v<C>) return x;
    else return static_cast<C>(x < C(0) ? -x : x);
  }
};
struct SignOp {
  template <class C> __device__ C operator()(C x) const { return math::sign(x); }
};
struct SquareOp {
  template <class C> __device__ C operator()(C x) const { return static_cast<C>(x * x); }
};
struct ReluOp {
  template <class C> __device__ C operator()(C x) const { return math::relu(x); }
};
struct LogicalNotOp {
  template <class C> __device__ bool operator()(C x) const { return !static_cast<bool>(x); }
};
template <class C>
struct ClampOp {
  C lo, hi;
  __device__ C operator()(C x) const { return math::clamp(x, lo, hi); }
};
template <class C>
struct IntPowOp {
  C e;
  __device__ C operator()(C x) const { return math::power(x, e); }
};

// Floating-point ops (C is float or double).
struct ExpOp {
  template <class C> __device__ C operator()(C x) const { return exp(x); }
};
struct LogOp {
  template <class C> __device__ C operator()(C x) const { return log(x); }
};
struct Log1pOp {
  template <class C> __device__ C operator()(C x) const { return log1p(x); }
};
struct Expm1Op {
  template <class C> __device__ C operator()(C x) const { return expm1(x); }
};
struct SqrtOp {
  template <class C> __device__ C operator()(C x) const { return sqrt(x); }
};
struct RsqrtOp {  // 1 / sqrt(x) with both steps rounded, as on the CPU (not the rsqrt approximation)
  template <class C> __device__ C operator()(C x) const { return C(1) / sqrt(x); }
};
struct ReciprocalOp {
  template <class C> __device__ C operator()(C x) const { return C(1) / x; }
};
struct SinOp {
  template <class C> __device__ C operator()(C x) const { return sin(x); }
};
struct CosOp {
  template <class C> __device__ C operator()(C x) const { return cos(x); }
};
struct SigmoidOp {
  template <class C> __device__ C operator()(C x) const { return math::sigmoid(x); }
};
struct TanhOp {
  template <class C> __device__ C operator()(C x) const { return tanh(x); }
};
struct SiluOp {
  template <class C> __device__ C operator()(C x) const { return math::silu(x); }
};
struct HardswishOp {
  template <class C> __device__ C operator()(C x) const { return math::hardswish(x); }
};
struct HardsigmoidOp {
  template <class C> __device__ C operator()(C x) const { return math::hardsigmoid(x); }
};
struct GeluOp {
  template <class C> __device__ C operator()(C x) const { return math::gelu(x); }
};
struct GeluTanhOp {
  template <class C> __device__ C operator()(C x) const { return math::gelu_tanh(x); }
};
struct SoftplusOp {
  template <class C> __device__ C operator()(C x) const { return math::softplus(x); }
};
struct ErfOp {
  template <class C> __device__ C operator()(C x) const { return erf(x); }
};
struct FloorOp {
  template <class C> __device__ C operator()(C x) const { return floor(x); }
};
struct CeilOp {
  template <class C> __device__ C operator()(C x) const { return ceil(x); }
};
struct RoundOp {  // half to even, like std::nearbyint in the default rounding mode
  template <class C> __device__ C operator()(C x) const { return nearbyint(x); }
};
template <class C>
struct PowScalarOp {
  C e;
  __device__ C operator()(C x) const { return pow(x, e); }
};
template <class C>
struct LeakyReluOp {
  C slope;
  __device__ C operator()(C x) const { return math::leaky_relu(x, slope); }
};

template <class Out, class T, class Op>
void run(const Tensor& out, const Tensor& in, Op op) {
  launch_elementwise<Out, T, 1>("unary", out, {&in}, UnaryFn<T, Op>{op});
}

template <class T>
void unary_typed(const Tensor& out, const Tensor& in, UnaryOp op, OpParams p) {
  using C = acc_t<T>;
  switch (op) {
    case UnaryOp::Neg: return run<T, T>(out, in, NegOp{});
    case UnaryOp::Abs: return run<T, T>(out, in, AbsOp{});
    case UnaryOp::Sign: return run<T, T>(out, in, SignOp{});
    case UnaryOp::Square: return run<T, T>(out, in, SquareOp{});
    case UnaryOp::Relu: return run<T, T>(out, in, ReluOp{});
    case UnaryOp::LogicalNot: return run<bool, T>(out, in, LogicalNotOp{});
    case UnaryOp::Clamp: {
      C lo = std::isinf(p.a) ? std::numeric_limits<C>::lowest() : static_cast<C>(p.a);
      C hi = std::isinf(p.b) ? std::numeric_limits<C>::max() : static_cast<C>(p.b);
      return run<T, T>(out, in, ClampOp<C>{lo, hi});
    }
    case UnaryOp::PowScalar: {
      C e = static_cast<C>(p.a);
      if constexpr (std::is_floating_point_v<C>) {
        if (e == C(2)) return run<T, T>(out, in, SquareOp{});
        if (e == C(0.5)) return run<T, T>(out, in, SqrtOp{});
        return run<T, T>(out, in, PowScalarOp<C>{e});
      } else {
        return run<T, T>(out, in, IntPowOp<C>{e});
      }
    }
    default: break;
  }
  if constexpr (std::is_floating_point_v<C>) {
    switch (op) {
      case UnaryOp::Exp: return run<T, T>(out, in, ExpOp{});
      case UnaryOp::Log: return run<T, T>(out, in, LogOp{});
      case UnaryOp::Log1p: return run<T, T>(out, in, Log1pOp{});
      case UnaryOp::Expm1: return run<T, T>(out, in, Expm1Op{});
      case UnaryOp::Sqrt: return run<T, T>(out, in, SqrtOp{});
      case UnaryOp::Rsqrt: return run<T, T>(out, in, RsqrtOp{});
      case UnaryOp::Reciprocal: return run<T, T>(out, in, ReciprocalOp{});
      case UnaryOp::Sin: return run<T, T>(out, in, SinOp{});
      case UnaryOp::Cos: return run<T, T>(out, in, CosOp{});
      case UnaryOp::Sigmoid: return run<T, T>(out, in, SigmoidOp{});
      case UnaryOp::Tanh: return run<T, T>(out, in, TanhOp{});
      case UnaryOp::Silu: return run<T, T>(out, in, SiluOp{});
      case UnaryOp::Hardswish: return run<T, T>(out, in, HardswishOp{});
      case UnaryOp::Hardsigmoid: return run<T, T>(out, in, HardsigmoidOp{});
      case UnaryOp::Gelu: return run<T, T>(out, in, GeluOp{});
      case UnaryOp::GeluTanh: return run<T, T>(out, in, GeluTanhOp{});
      case UnaryOp::Softplus: return run<T, T>(out, in, SoftplusOp{});
      case UnaryOp::Erf: return run<T, T>(out, in, ErfOp{});
      case UnaryOp::Floor: return run<T, T>(out, in, FloorOp{});
      case UnaryOp::Ceil: return run<T, T>(out, in, CeilOp{});
      case UnaryOp::Round: return run<T, T>(out, in, RoundOp{});
      case UnaryOp::LeakyRelu: return run<T, T>(out, in, LeakyReluOp<C>{static_cast<C>(p.a)});
      default: break;
    }
    fail("unary", "op ", static_cast<int>(op), " is not supported for ", dtype_name(in.dtype()), " on CUDA");
  } else {
    fail("unary", "this op needs a floating-point tensor, got ", dtype_name(in.dtype()));
  }
}

}  // namespace

void CudaBackend::unary(const Tensor& out, const Tensor& in, UnaryOp op, OpParams p) {
  dispatch_cuda_dtype(in.dtype(), "unary", [&]<class T>() { unary_typed<T>(out, in, op, p); });
}

}  // namespace ember
