// CUDA activation derivatives: out = g * d(activation)/dx, computed from the
// upstream gradient g and the saved input x (or output y), for the floating
// dtypes, with any strides. The formulas are kernels/elementwise_math.h's,
// shared with the CPU; elementwise.cuh runs them.
// Launch shape: grid-stride loops of 256-thread blocks, VEC elements per
// thread on the flat path. Memory traffic: 2 * sizeof(T) read + sizeof(T)
// written per element.
#include <cmath>
#include <limits>

#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/elementwise_math.h"

namespace ember {
namespace {

template <class T, class Op>
struct BackwardFn {
  Op op;
  __device__ T operator()(T g, T s) const { return cast<T>(op(cast<acc_t<T>>(g), cast<acc_t<T>>(s))); }
};

struct ReluB {
  template <class C> __device__ C operator()(C g, C y) const { return math::relu_backward(g, y); }
};
struct SigmoidB {
  template <class C> __device__ C operator()(C g, C y) const { return math::sigmoid_backward(g, y); }
};
struct TanhB {
  template <class C> __device__ C operator()(C g, C y) const { return math::tanh_backward(g, y); }
};
struct SiluB {
  template <class C> __device__ C operator()(C g, C x) const { return math::silu_backward(g, x); }
};
struct HardswishB {
  template <class C> __device__ C operator()(C g, C x) const { return math::hardswish_backward(g, x); }
};
struct HardsigmoidB {
  template <class C> __device__ C operator()(C g, C x) const { return math::hardsigmoid_backward(g, x); }
};
struct GeluB {
  template <class C> __device__ C operator()(C g, C x) const { return math::gelu_backward(g, x); }
};
struct GeluTanhB {
  template <class C> __device__ C operator()(C g, C x) const { return math::gelu_tanh_backward(g, x); }
};
struct SoftplusB {
  template <class C> __device__ C operator()(C g, C x) const { return math::softplus_backward(g, x); }
};
template <class C>
struct LeakyReluB {
  C slope;
  __device__ C operator()(C g, C x) const { return math::leaky_relu_backward(g, x, slope); }
};
template <class C>
struct ClampB {
  C lo, hi;
  __device__ C operator()(C g, C x) const { return math::clamp_backward(g, x, lo, hi); }
};

template <class T, class Op>
void run(const Tensor& out, const Tensor& g, const Tensor& s, Op op) {
  launch_elementwise<T, T, 2>("activation backward", out, {&g, &s}, BackwardFn<T, Op>{op});
}

template <class T>
void backward_typed(const Tensor& out, const Tensor& g, const Tensor& s, BinaryOp op, OpParams p) {
  using C = acc_t<T>;
  switch (op) {
    case BinaryOp::ReluBackward: return run<T>(out, g, s, ReluB{});
    case BinaryOp::SigmoidBackward: return run<T>(out, g, s, SigmoidB{});
    case BinaryOp::TanhBackward: return run<T>(out, g, s, TanhB{});
    case BinaryOp::SiluBackward: return run<T>(out, g, s, SiluB{});
    case BinaryOp::HardswishBackward: return run<T>(out, g, s, HardswishB{});
    case BinaryOp::HardsigmoidBackward: return run<T>(out, g, s, HardsigmoidB{});
    case BinaryOp::GeluBackward: return run<T>(out, g, s, GeluB{});
    case BinaryOp::GeluTanhBackward: return run<T>(out, g, s, GeluTanhB{});
    case BinaryOp::SoftplusBackward: return run<T>(out, g, s, SoftplusB{});
    case BinaryOp::LeakyReluBackward: return run<T>(out, g, s, LeakyReluB<C>{static_cast<C>(p.a)});
    case BinaryOp::ClampBackward: {
      C lo = std::isinf(p.a) ? -std::numeric_limits<C>::infinity() : static_cast<C>(p.a);
      C hi = std::isinf(p.b) ? std::numeric_limits<C>::infinity() : static_cast<C>(p.b);
      return run<T>(out, g, s, ClampB<C>{lo, hi});
    }
    default: break;
  }
  fail("binary", "op ", static_cast<int>(op), " is not an activation derivative");
}

}  // namespace

bool is_activation_backward(BinaryOp op) {
  switch (op) {
    case BinaryOp::ReluBackward: case BinaryOp::SigmoidBackward: case BinaryOp::TanhBackward:
    case BinaryOp::SiluBackward: case BinaryOp::HardswishBackward: case BinaryOp::HardsigmoidBackward:
    case BinaryOp::GeluBackward: case BinaryOp::GeluTanhBackward: case BinaryOp::SoftplusBackward:
    case BinaryOp::LeakyReluBackward: case BinaryOp::ClampBackward:
      return true;
    default:
      return false;
  }
}

void activation_backward_cuda(const Tensor& out, const Tensor& grad, const Tensor& saved, BinaryOp op, OpParams p) {
  dispatch_cuda_dtype(grad.dtype(), "binary", [&]<class T>() {
    if constexpr (is_float_like_v<T>) {
      backward_typed<T>(out, grad, saved, op, p);
    } else {
      fail("binary", "op ", static_cast<int>(op), " is not supported for ", dtype_name(grad.dtype()), " on CUDA");
    }
  });
}

}  // namespace ember
