// The machinery behind every CUDA elementwise kernel (copy, fill, unary,
// binary, where): walk an output and up to 3 inputs of one shape, each with
// its own strides (0 for a broadcast dim), and apply a small functor.
//
//   launch_elementwise<Out, In, NIN>(op, out, {&a, &b}, f)
//       out[i] = cast<Out>(f(a[i], b[i]))   (f receives raw In values)
//
// On the host, dims of size 1 are dropped, the rest ordered as the output
// lies in memory, and neighbouring dims that are contiguous with each other
// in every operand merged (kernels/elementwise_dims.h, shared with the CPU's
// strided_loop). Two kernels then cover every case:
// - flat: after merging at most one dim, the output and every input are
//   contiguous, or an input is a single broadcast value (x * 2). Each thread
//   handles VEC consecutive elements with one 16-byte load per input and one
//   16-byte store when the pointers are aligned (VEC = 16 / widest element).
// - strided: anything else. An OffsetCalc turns the linear index into one
//   element offset per operand, innermost dim first, with a fast 32-bit
//   division by multiply-and-shift when every index fits in 31 bits.
// Both use grid-stride loops over at most a few waves of resident blocks.
// Memory traffic: each input element is read once, each output written once
// (a broadcast value is read once per thread and comes from cache).
#pragma once

#include <array>
#include <climits>
#include <vector>

#include "kernels/cuda/device_types.cuh"
#include "kernels/elementwise_dims.h"

namespace ember {

inline constexpr int kMaxElementwiseDims = 16;
inline constexpr int kElementwiseThreads = 256;

// Unsigned division of n < 2^31 by a fixed d in [1, 2^31) with one
// multiply-high, an add and a shift (Granlund and Montgomery, as in ATen's
// IntDivider): magic = 2^32 * (2^shift - d) / d + 1 with 2^shift >= d.
struct FastDivmod {
  uint32_t divisor = 1, magic = 1, shift = 0;
  FastDivmod() = default;
  explicit FastDivmod(uint32_t d) : divisor(d) {
    for (shift = 0; shift < 32; ++shift) {
      if ((uint64_t{1} << shift) >= d) break;
    }
    const uint64_t one = 1;
    magic = static_cast<uint32_t>(((one << 32) * ((one << shift) - d)) / d + 1);
  }
  __device__ __forceinline__ uint32_t div(uint32_t n) const { return (__umulhi(n, magic) + n) >> shift; }
};

// Element offsets of NARGS operands for a linear index over the shape.
template <int NARGS>
struct OffsetCalc {
  int ndim = 0;
  bool use32 = true;  // every linear index < 2^31: use FastDivmod
  int64_t sizes[kMaxElementwiseDims];
  FastDivmod div[kMaxElementwiseDims];
  int64_t strides[kMaxElementwiseDims][NARGS];  // in elements, innermost dim first

  __device__ __forceinline__ void get(int64_t linear, int64_t (&off)[NARGS]) const {
#pragma unroll
    for (int a = 0; a < NARGS; ++a) off[a] = 0;
    if (use32) {
      uint32_t rem = static_cast<uint32_t>(linear);
#pragma unroll
      for (int d = 0; d < kMaxElementwiseDims; ++d) {
        if (d == ndim) break;
        const uint32_t q = div[d].div(rem);
        const int64_t idx = static_cast<int64_t>(rem - q * div[d].divisor);
        rem = q;
#pragma unroll
        for (int a = 0; a < NARGS; ++a) off[a] += idx * strides[d][a];
      }
    } else {
      int64_t rem = linear;
#pragma unroll
      for (int d = 0; d < kMaxElementwiseDims; ++d) {
        if (d == ndim) break;
        const int64_t q = rem / sizes[d];
        const int64_t idx = rem - q * sizes[d];
        rem = q;
#pragma unroll
        for (int a = 0; a < NARGS; ++a) off[a] += idx * strides[d][a];
      }
    }
  }
};

// The merged iteration space of NARGS operands (operand 0 is the output).
template <int NARGS>
struct ElementwiseLayout {
  OffsetCalc<NARGS> calc;
  int64_t numel = 0;
  bool flat = false;         // at most one dim, output contiguous, inputs contiguous or broadcast
  uint32_t scalar_mask = 0;  // flat only: bit k set when input k is one broadcast value
};

template <int NARGS>
ElementwiseLayout<NARGS> make_elementwise_layout(const std::array<const Tensor*, NARGS>& ops, const char* op) {
  const Shape& shape = ops[0]->shape();
  // The output's memory order, contiguous neighbours merged: a channels-last
  // output with inputs laid out alike is one flat run, like an NCHW one.
  const ElementwiseDims<NARGS> dims = elementwise_dims<NARGS>(ops);
  const std::vector<int64_t>& sizes = dims.sizes;
  const std::vector<std::array<int64_t, NARGS>>& strides = dims.strides;
  ElementwiseLayout<NARGS> layout;
  layout.numel = 1;
  for (int64_t s : sizes) layout.numel *= s;
  if (shape_numel(shape) == 0) layout.numel = 0;
  const int nd = static_cast<int>(sizes.size());
  EMBER_CHECK(nd <= kMaxElementwiseDims, op, "a tensor of shape ", shape, " has ", nd,
              " non-mergeable dims; the CUDA elementwise kernels support ", kMaxElementwiseDims);
  auto& c = layout.calc;
  c.ndim = nd;
  c.use32 = layout.numel <= INT32_MAX;
  for (int i = 0; i < nd; ++i) {  // innermost first
    c.sizes[i] = sizes[nd - 1 - i];
    if (c.use32) c.div[i] = FastDivmod(static_cast<uint32_t>(c.sizes[i]));
    for (int k = 0; k < NARGS; ++k) c.strides[i][k] = strides[nd - 1 - i][k];
  }
  layout.flat = nd == 0 || (nd == 1 && c.strides[0][0] == 1);
  for (int k = 1; k < NARGS && layout.flat && nd == 1; ++k) {
    if (c.strides[0][k] == 0) layout.scalar_mask |= 1u << (k - 1);
    else if (c.strides[0][k] != 1) layout.flat = false;
  }
  return layout;
}

template <class T, int N>
struct alignas(sizeof(T) * N) Packed {
  T v[N];
};

template <class In, int NIN>
struct InputPtrs {
  const In* p[NIN > 0 ? NIN : 1];
};

// The functor applied to element j of the loaded values.
template <int NIN, class F, class In, int VEC>
__device__ __forceinline__ auto apply_at(const F& f, const In (&x)[NIN > 0 ? NIN : 1][VEC], int j) {
  if constexpr (NIN == 0) return f();
  else if constexpr (NIN == 1) return f(x[0][j]);
  else if constexpr (NIN == 2) return f(x[0][j], x[1][j]);
  else return f(x[0][j], x[1][j], x[2][j]);
}

template <int VEC, class Out, class In, int NIN, class F>
__global__ void __launch_bounds__(kElementwiseThreads)
    elementwise_flat_kernel(int64_t n, Out* __restrict__ out, InputPtrs<In, NIN> in, uint32_t scalar_mask, F f) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t nvec = n / VEC;
  for (int64_t v = tid; v < nvec; v += step) {
    const int64_t base = v * VEC;
    In x[NIN > 0 ? NIN : 1][VEC];
#pragma unroll
    for (int k = 0; k < NIN; ++k) {
      if (scalar_mask & (1u << k)) {
        const In s = in.p[k][0];
#pragma unroll
        for (int j = 0; j < VEC; ++j) x[k][j] = s;
      } else {
        const Packed<In, VEC> pk = *reinterpret_cast<const Packed<In, VEC>*>(in.p[k] + base);
#pragma unroll
        for (int j = 0; j < VEC; ++j) x[k][j] = pk.v[j];
      }
    }
    Packed<Out, VEC> o;
#pragma unroll
    for (int j = 0; j < VEC; ++j) o.v[j] = cast<Out>(apply_at<NIN>(f, x, j));
    *reinterpret_cast<Packed<Out, VEC>*>(out + base) = o;
  }
  // The last n % VEC elements, one per thread.
  for (int64_t i = nvec * VEC + tid; i < n; i += step) {
    In x[NIN > 0 ? NIN : 1][1];
#pragma unroll
    for (int k = 0; k < NIN; ++k) x[k][0] = (scalar_mask & (1u << k)) ? in.p[k][0] : in.p[k][i];
    out[i] = cast<Out>(apply_at<NIN>(f, x, 0));
  }
}

template <class Out, class In, int NIN, class F>
__global__ void __launch_bounds__(kElementwiseThreads)
    elementwise_strided_kernel(int64_t n, Out* __restrict__ out, InputPtrs<In, NIN> in, OffsetCalc<NIN + 1> calc,
                               F f) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[NIN + 1];
    calc.get(i, off);
    In x[NIN > 0 ? NIN : 1][1];
#pragma unroll
    for (int k = 0; k < NIN; ++k) x[k][0] = in.p[k][off[k + 1]];
    out[off[0]] = cast<Out>(apply_at<NIN>(f, x, 0));
  }
}

inline bool is_aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// Runs out[i] = cast<Out>(f(ins[0][i], ...)) over out's shape on its device's
// current stream. ins are already broadcast to out's shape (any strides).
template <class Out, class In, int NIN, class F>
void launch_elementwise(const char* op, const Tensor& out, const std::array<const Tensor*, NIN>& ins, const F& f) {
  constexpr int NARGS = NIN + 1;
  std::array<const Tensor*, NARGS> ops;
  ops[0] = &out;
  for (int k = 0; k < NIN; ++k) ops[k + 1] = ins[k];
  const ElementwiseLayout<NARGS> layout = make_elementwise_layout<NARGS>(ops, op);
  if (layout.numel == 0) return;
  KernelContext ctx(out);
  Out* o = static_cast<Out*>(out.data_ptr());
  InputPtrs<In, NIN> ptrs{};
  for (int k = 0; k < NIN; ++k) ptrs.p[k] = static_cast<const In*>(ins[k]->data_ptr());

  constexpr int VEC = static_cast<int>(16 / (sizeof(Out) > sizeof(In) ? sizeof(Out) : sizeof(In)));
  if (layout.flat) {
    bool aligned = is_aligned(o, VEC * sizeof(Out));
    for (int k = 0; k < NIN; ++k) {
      if (!(layout.scalar_mask & (1u << k))) aligned = aligned && is_aligned(ptrs.p[k], VEC * sizeof(In));
    }
    if (aligned) {
      const unsigned blocks = grid_for(ceil_div(layout.numel, VEC), kElementwiseThreads, ctx.device);
      elementwise_flat_kernel<VEC, Out, In, NIN, F>
          <<<blocks, kElementwiseThreads, 0, ctx.stream>>>(layout.numel, o, ptrs, layout.scalar_mask, f);
      EMBER_CUDA_CHECK_LAUNCH(op, cat_str("(flat kernel, shape ", out.shape(), ")"));
      return;
    }
  }
  const unsigned blocks = grid_for(layout.numel, kElementwiseThreads, ctx.device);
  elementwise_strided_kernel<Out, In, NIN, F>
      <<<blocks, kElementwiseThreads, 0, ctx.stream>>>(layout.numel, o, ptrs, layout.calc, f);
  EMBER_CUDA_CHECK_LAUNCH(op, cat_str("(strided kernel, shape ", out.shape(), ")"));
}

}  // namespace ember
