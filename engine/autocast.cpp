#include "engine/autocast.h"

#include "engine/error.h"

namespace ember {
namespace {
thread_local bool g_enabled = false;
thread_local DType g_dtype = DType::Float16;

bool castable(const Tensor& t) {
  return t.defined() && is_floating(t.dtype()) && t.dtype() != DType::Float64;
}
}  // namespace

bool autocast_enabled() { return g_enabled; }
DType autocast_dtype() { return g_dtype; }

AutocastGuard::AutocastGuard(DType dtype, bool enabled) : previous_enabled_(g_enabled), previous_dtype_(g_dtype) {
  if (enabled) {
    EMBER_CHECK(dtype == DType::Float16 || dtype == DType::BFloat16, "autocast",
                "mixed precision runs in float16 or bfloat16, not ", dtype_name(dtype));
    g_dtype = dtype;
  }
  g_enabled = enabled;
}

AutocastGuard::~AutocastGuard() {
  g_enabled = previous_enabled_;
  g_dtype = previous_dtype_;
}

Tensor autocast_to_lower(const Tensor& t) {
  if (!g_enabled || !castable(t) || t.dtype() == g_dtype) return t;
  return t.to(g_dtype);
}

Tensor autocast_to_float32(const Tensor& t) {
  if (!g_enabled || !castable(t) || t.dtype() == DType::Float32) return t;
  return t.to(DType::Float32);
}

}  // namespace ember
