// Automatic mixed precision: the policy of torch.autocast on CUDA.
//
// Inside an AutocastGuard(DType::Float16) or (DType::BFloat16):
// - conv2d, matmul and linear cast their float32 operands to the 16-bit type
//   (tensor cores, half the bytes moved);
// - softmax, log_softmax and the losses cast 16-bit inputs to float32 (exp
//   and long sums need float32's range and precision);
// - every other op runs in its inputs' type: binary ops promote a mixed pair
//   (float16 + float32 gives float32), batch norm takes a 16-bit input with
//   float32 weight, bias and running statistics and keeps its statistics in
//   float32.
// Parameters stay float32 (the master weights): the casts are recorded by
// autograd, so their gradients arrive in float32. The backward pass runs
// with autocast off, in the types the forward pass saved. One state covers
// every device, per thread. A parameter (a leaf that requires grad) is cast
// once per autocast region however often it is used, as torch.autocast
// caches it; the cache empties when the outermost guard ends.
#pragma once

#include <optional>
#include <string>

#include "engine/tensor.h"

namespace ember {

bool autocast_enabled();
DType autocast_dtype();  // the 16-bit type while enabled

// Turns autocast on with `dtype` (float16 or bfloat16) for a scope, or off
// with enabled = false (like torch.autocast(..., enabled=False) inside an
// autocast region).
class AutocastGuard {
 public:
  explicit AutocastGuard(DType dtype, bool enabled = true);
  // On with the type when given, off otherwise (what autocast_dtype_of returns).
  explicit AutocastGuard(std::optional<DType> dtype) : AutocastGuard(dtype.value_or(DType::Float16), dtype.has_value()) {}
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool previous_enabled_;
  DType previous_dtype_;
};

// A precision name as the tools take it: "float32" (no autocast, nullopt),
// "float16" or "bfloat16"; anything else is an error naming `what` (the
// option or config key it came from).
std::optional<DType> autocast_dtype_of(const std::string& precision, const char* what);

// The casts ops apply at entry; both return t unchanged when autocast is off
// or t is undefined, not floating, or float64.
Tensor autocast_to_lower(const Tensor& t);    // to the autocast type
Tensor autocast_to_float32(const Tensor& t);  // 16-bit to float32

}  // namespace ember
