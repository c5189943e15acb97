// CUDA binary elementwise ops: arithmetic (a + alpha*b, a - alpha*b, a*b,
// a/b, pow, maximum, minimum), comparisons and logical and/or (bool output),
// for every dtype, with any strides and broadcasting (stride 0). The
// activation derivatives (ReluBackward, ...) are in activation_backward.cu.
// Each op is a functor over the compute type; elementwise.cuh runs it.
// Launch shape: grid-stride loops of 256-thread blocks, VEC elements per
// thread on the flat path (contiguous operands or a broadcast scalar).
// Memory traffic: 2 * sizeof(T) read + sizeof(out) written per element (a
// broadcast operand is read from cache).
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/elementwise_math.h"

namespace ember {
namespace {

template <class T, class Op>
struct BinaryFn {
  Op op;
  __device__ auto operator()(T x, T y) const { return op(cast<acc_t<T>>(x), cast<acc_t<T>>(y)); }
};

struct AddOp {
  template <class C> __device__ C operator()(C x, C y) const { return static_cast<C>(x + y); }
};
struct AddReluOp {
  template <class C> __device__ C operator()(C x, C y) const { return math::relu(static_cast<C>(x + y)); }
};
template <class C>
struct AddAlphaOp {
  C alpha;
  __device__ C operator()(C x, C y) const { return static_cast<C>(x + alpha * y); }
};
struct SubOp {
  template <class C> __device__ C operator()(C x, C y) const { return static_cast<C>(x - y); }
};
template <class C>
struct SubAlphaOp {
  C alpha;
  __device__ C operator()(C x, C y) const { return static_cast<C>(x - alpha * y); }
};
struct MulOp {
  template <class C> __device__ C operator()(C x, C y) const { return static_cast<C>(x * y); }
};
struct DivOp {
  template <class C> __device__ C operator()(C x, C y) const { return x / y; }
};
struct PowOp {
  template <class C> __device__ C operator()(C x, C y) const { return math::power(x, y); }
};
struct MaximumOp {
  template <class C> __device__ C operator()(C x, C y) const { return math::maximum(x, y); }
};
struct MinimumOp {
  template <class C> __device__ C operator()(C x, C y) const { return math::minimum(x, y); }
};
struct EqOp {
  template <class C> __device__ bool operator()(C x, C y) const { return x == y; }
};
struct NeOp {
  template <class C> __device__ bool operator()(C x, C y) const { return x != y; }
};
struct LtOp {
  template <class C> __device__ bool operator()(C x, C y) const { return x < y; }
};
struct LeOp {
  template <class C> __device__ bool operator()(C x, C y) const { return x <= y; }
};
struct GtOp {
  template <class C> __device__ bool operator()(C x, C y) const { return x > y; }
};
struct GeOp {
  template <class C> __device__ bool operator()(C x, C y) const { return x >= y; }
};
struct AndOp {
  template <class C> __device__ bool operator()(C x, C y) const { return static_cast<bool>(x) && static_cast<bool>(y); }
};
struct OrOp {
  template <class C> __device__ bool operator()(C x, C y) const { return static_cast<bool>(x) || static_cast<bool>(y); }
};

template <class Out, class T, class Op>
void run(const Tensor& out, const Tensor& a, const Tensor& b, Op op) {
  launch_elementwise<Out, T, 2>("binary", out, {&a, &b}, BinaryFn<T, Op>{op});
}

template <class T>
void binary_typed(const Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op, OpParams p) {
  using C = acc_t<T>;
  switch (op) {
    case BinaryOp::Add:
      if (p.a == 1.0) return run<T, T>(out, a, b, AddOp{});
      return run<T, T>(out, a, b, AddAlphaOp<C>{static_cast<C>(p.a)});
    case BinaryOp::Sub:
      if (p.a == 1.0) return run<T, T>(out, a, b, SubOp{});
      return run<T, T>(out, a, b, SubAlphaOp<C>{static_cast<C>(p.a)});
    case BinaryOp::Mul: return run<T, T>(out, a, b, MulOp{});
    case BinaryOp::AddRelu: return run<T, T>(out, a, b, AddReluOp{});
    case BinaryOp::Div:
      if constexpr (std::is_floating_point_v<C>) return run<T, T>(out, a, b, DivOp{});
      else fail("div", "integer division reached the kernel; the front-end promotes to float");
    case BinaryOp::Pow: return run<T, T>(out, a, b, PowOp{});
    case BinaryOp::Maximum: return run<T, T>(out, a, b, MaximumOp{});
    case BinaryOp::Minimum: return run<T, T>(out, a, b, MinimumOp{});
    case BinaryOp::Eq: return run<bool, T>(out, a, b, EqOp{});
    case BinaryOp::Ne: return run<bool, T>(out, a, b, NeOp{});
    case BinaryOp::Lt: return run<bool, T>(out, a, b, LtOp{});
    case BinaryOp::Le: return run<bool, T>(out, a, b, LeOp{});
    case BinaryOp::Gt: return run<bool, T>(out, a, b, GtOp{});
    case BinaryOp::Ge: return run<bool, T>(out, a, b, GeOp{});
    case BinaryOp::LogicalAnd: return run<bool, T>(out, a, b, AndOp{});
    case BinaryOp::LogicalOr: return run<bool, T>(out, a, b, OrOp{});
    default: break;
  }
  fail("binary", "op ", static_cast<int>(op), " is not supported for ", dtype_name(a.dtype()), " on CUDA");
}

}  // namespace

void CudaBackend::binary(const Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op, OpParams p) {
  if (is_activation_backward(op)) return activation_backward_cuda(out, a, b, op, p);
  dispatch_cuda_dtype(a.dtype(), "binary", [&]<class T>() { binary_typed<T>(out, a, b, op, p); });
}

}  // namespace ember
