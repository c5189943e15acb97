// The class-index check shared by the CPU NLL and cross-entropy kernels.
#pragma once

#include <cstdint>

#include "engine/error.h"

namespace ember {

// Throws, naming the op, the sample and its target, when t is neither a
// class of [0, C) nor ignore_index.
inline void check_class_index(const char* op, int64_t t, int64_t n, int64_t C, int64_t ignore_index) {
  if (t != ignore_index && (t < 0 || t >= C)) {
    fail(op, "target ", t, " of sample ", n, " is out of bounds for ", C, " classes (expected 0 to ", C - 1, ")");
  }
}

}  // namespace ember
