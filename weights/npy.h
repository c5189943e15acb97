// NumPy's .npy format (versions 1.0, 2.0 and 3.0), read and written.
//
// Supported element types: float32, float64, float16, int64, int32, uint8
// and bool, little-endian (or byte-order free), C order. Anything else (a
// big-endian or Fortran-order array, another dtype, a truncated or corrupt
// file) is an ember::Error naming the file and the problem. bfloat16 has no
// NumPy type, so save_npy refuses it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "engine/tensor.h"

namespace ember {

// Reads a .npy file into a CPU tensor of its shape and dtype.
Tensor load_npy(const std::string& path);
// Writes `t` (any device, any strides) as a .npy file, atomically.
void save_npy(const std::string& path, const Tensor& t);

// --- Building blocks shared with the .npz reader and writer ---

// Fills up to n bytes at dst and returns how many it read (0 at the end);
// throws ember::Error on a read error.
using ReadFn = std::function<size_t(void* dst, size_t n)>;

// Reads one .npy stream of exactly `total_size` bytes through `read`.
// `where` names the source in errors ("w.npy", "w.npz: array 'fc.weight'").
Tensor read_npy_stream(const ReadFn& read, uint64_t total_size, const std::string& where);
// Parses a complete .npy file held in memory.
Tensor parse_npy(const void* data, size_t size, const std::string& where);

// The bytes before the data of `t`'s .npy encoding: magic, version, header
// length and the padded header dict. `t`'s raw bytes, C order, follow it.
std::string npy_header(const Tensor& t, const std::string& where);

}  // namespace ember
