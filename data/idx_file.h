// IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
#pragma once

#include <string>

#include "engine/tensor.h"

namespace ember {

// Reads an IDX file into a tensor of its shape: uint8 data stays uint8;
// int8/int16/int32 become int32; float32 and float64 keep their type. Errors
// name the file and the problem (missing, not IDX, truncated).
Tensor read_idx(const std::string& path);

}  // namespace ember
