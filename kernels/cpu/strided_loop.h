// The machinery behind every CPU elementwise kernel: walk N tensors of one
// shape, each with its own strides (0 for a broadcast dim), and hand the
// kernel contiguous runs along the innermost dim.
//
// Dims of size 1 are dropped and neighbouring dims that are contiguous with
// each other in every operand are merged, so a contiguous tensor becomes one
// long run and the kernel's inner loop vectorises. Work is split across
// threads by element count, so any shape spreads evenly.
#pragma once

#include <algorithm>
#include <array>
#include <limits>
#include <cstdint>
#include <vector>

#include "engine/dtype.h"
#include "engine/tensor.h"
#include "kernels/elementwise_dims.h"
#include "kernels/elementwise_math.h"
#include "kernels/cpu/parallel.h"

namespace ember {

// Converts between element types, going through float for Half/BFloat16.
template <class To, class From>
inline To convert(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, bool>) {
    return static_cast<float>(v) != 0.0f;
  } else if constexpr (std::is_same_v<From, Half> || std::is_same_v<From, BFloat16>) {
    return convert<To>(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, Half> || std::is_same_v<To, BFloat16>) {
    return To(static_cast<float>(v));
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    return math::saturating_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

// loop(ptrs, n, byte_strides) processes n elements starting at ptrs[k], the
// k-th operand stepping byte_strides[k] bytes per element.
template <size_t N, class Loop>
void strided_loop(const std::array<const Tensor*, N>& operands, Loop&& loop) {
  std::array<char*, N> base;
  for (size_t k = 0; k < N; ++k) base[k] = static_cast<char*>(operands[k]->data_ptr());

  // The output's memory order, contiguous neighbours merged (elementwise_dims.h);
  // strides in bytes, since the operands' element types may differ.
  ElementwiseDims<N> dims = elementwise_dims(operands);
  std::vector<int64_t> sizes = std::move(dims.sizes);
  std::vector<std::array<int64_t, N>> strides = std::move(dims.strides);
  for (auto& s : strides)
    for (size_t k = 0; k < N; ++k) s[k] *= static_cast<int64_t>(operands[k]->element_size());
  if (sizes.empty()) {  // a single element
    sizes.push_back(1);
    std::array<int64_t, N> s{};
    strides.push_back(s);
  }
  const int64_t nd = static_cast<int64_t>(sizes.size());
  int64_t numel = 1;
  for (int64_t s : sizes) numel *= s;
  if (numel == 0) return;
  const int64_t inner = sizes.back();
  const std::array<int64_t, N> inner_strides = strides.back();

  parallel_for(numel, 32768, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> idx(nd);
    int64_t lin = begin;
    for (int64_t d = nd - 1; d >= 0; --d) {
      idx[d] = lin % sizes[d];
      lin /= sizes[d];
    }
    int64_t pos = begin;
    while (pos < end) {
      std::array<char*, N> p = base;
      for (int64_t d = 0; d < nd; ++d) {
        for (size_t k = 0; k < N; ++k) p[k] += idx[d] * strides[d][k];
      }
      int64_t run = std::min(inner - idx[nd - 1], end - pos);
      loop(p.data(), run, inner_strides.data());
      pos += run;
      idx[nd - 1] += run;
      for (int64_t d = nd - 1; d > 0 && idx[d] == sizes[d]; --d) {
        idx[d] = 0;
        ++idx[d - 1];
      }
    }
  });
}

// out[i] = f(in[i]) computed in compute_t<In>, stored as Out.
template <class Out, class In, class F>
void unary_loop(const Tensor& out, const Tensor& in, F f) {
  using C = compute_t<In>;
  strided_loop<2>({&out, &in}, [&](char* const* p, int64_t n, const int64_t* s) {
    if (s[0] == sizeof(Out) && s[1] == sizeof(In)) {
      Out* o = reinterpret_cast<Out*>(p[0]);
      const In* a = reinterpret_cast<const In*>(p[1]);
      for (int64_t i = 0; i < n; ++i) o[i] = convert<Out>(f(static_cast<C>(a[i])));
    } else {
      for (int64_t i = 0; i < n; ++i) {
        const In& a = *reinterpret_cast<const In*>(p[1] + i * s[1]);
        *reinterpret_cast<Out*>(p[0] + i * s[0]) = convert<Out>(f(static_cast<C>(a)));
      }
    }
  });
}

// out[i] = f(a[i], b[i]); fast paths for contiguous operands and a broadcast b.
template <class Out, class In, class F>
void binary_loop(const Tensor& out, const Tensor& a, const Tensor& b, F f) {
  using C = compute_t<In>;
  strided_loop<3>({&out, &a, &b}, [&](char* const* p, int64_t n, const int64_t* s) {
    Out* o = reinterpret_cast<Out*>(p[0]);
    const In* x = reinterpret_cast<const In*>(p[1]);
    const In* y = reinterpret_cast<const In*>(p[2]);
    if (s[0] == sizeof(Out) && s[1] == sizeof(In) && s[2] == sizeof(In)) {
      for (int64_t i = 0; i < n; ++i) o[i] = convert<Out>(f(static_cast<C>(x[i]), static_cast<C>(y[i])));
    } else if (s[0] == sizeof(Out) && s[1] == sizeof(In) && s[2] == 0) {
      const C yv = static_cast<C>(*y);
      for (int64_t i = 0; i < n; ++i) o[i] = convert<Out>(f(static_cast<C>(x[i]), yv));
    } else {
      for (int64_t i = 0; i < n; ++i) {
        const In& xv = *reinterpret_cast<const In*>(p[1] + i * s[1]);
        const In& yv = *reinterpret_cast<const In*>(p[2] + i * s[2]);
        *reinterpret_cast<Out*>(p[0] + i * s[0]) = convert<Out>(f(static_cast<C>(xv), static_cast<C>(yv)));
      }
    }
  });
}

}  // namespace ember
