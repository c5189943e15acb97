// Error checks for CUDA runtime calls and kernel launches: every failure
// becomes an ember::Error naming the op and CUDA's own message, e.g.
//   "conv2d: CUDA error cudaErrorIllegalAddress (an illegal memory access was encountered)"
// The macros (EMBER_CUDA_CHECK, EMBER_CUDA_CHECK_LAUNCH) live with the
// engine's CUDA layer, which needs them too; kernels include this header.
#pragma once

#include "engine/cuda/cuda_error.h"
