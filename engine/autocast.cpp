#include "engine/autocast.h"

#include <vector>

#include "engine/autograd/grad_mode.h"
#include "engine/error.h"

namespace ember {
namespace {
thread_local bool g_enabled = false;
thread_local DType g_dtype = DType::Float16;
thread_local int g_depth = 0;  // enabled guards alive on this thread

// Casts of parameters (leaves that require grad) made in the current
// autocast region, so a weight used twice (SimCLR's two views, a shared
// layer) is cast once and its two uses share one cast node. Emptied when the
// outermost guard ends, as torch.autocast's cache is: the optimizer updates
// the parameters outside the region.
struct CachedCast {
  Tensor source, cast;
};
thread_local std::vector<CachedCast> g_cast_cache;

bool castable(const Tensor& t) {
  return t.defined() && is_floating(t.dtype()) && t.dtype() != DType::Float64;
}
}  // namespace

bool autocast_enabled() { return g_enabled; }
DType autocast_dtype() { return g_dtype; }

AutocastGuard::AutocastGuard(DType dtype, bool enabled) : previous_enabled_(g_enabled), previous_dtype_(g_dtype) {
  if (enabled) {
    EMBER_CHECK(is_16bit_float(dtype), "autocast",
                "mixed precision runs in float16 or bfloat16, not ", dtype_name(dtype));
    g_dtype = dtype;
    ++g_depth;
  }
  g_enabled = enabled;
}

AutocastGuard::~AutocastGuard() {
  if (g_enabled && --g_depth == 0) g_cast_cache.clear();
  g_enabled = previous_enabled_;
  g_dtype = previous_dtype_;
}

std::optional<DType> autocast_dtype_of(const std::string& precision, const char* what) {
  if (precision == "float32") return std::nullopt;
  if (precision == "float16") return DType::Float16;
  if (precision == "bfloat16") return DType::BFloat16;
  fail("config", what, " must be float32, float16 or bfloat16, got '", precision, "'");
}

Tensor autocast_to_lower(const Tensor& t) {
  if (!g_enabled || !castable(t) || t.dtype() == g_dtype) return t;
  const bool cacheable = t.requires_grad() && t.is_leaf() && grad_mode_enabled();
  if (!cacheable) return t.to(g_dtype);
  for (const CachedCast& c : g_cast_cache) {
    if (c.source.is_same(t) && c.cast.dtype() == g_dtype) return c.cast;
  }
  Tensor cast = t.to(g_dtype);
  g_cast_cache.push_back({t, cast});
  return cast;
}

Tensor autocast_to_float32(const Tensor& t) {
  if (!g_enabled || !castable(t) || t.dtype() == DType::Float32) return t;
  return t.to(DType::Float32);
}

}  // namespace ember
