// NumPy's .npz archives (np.savez, np.savez_compressed): a zip file of .npy
// arrays, read and written with libzip. Entries are "NAME.npy", stored or
// deflate-compressed; names come back without the ".npy", in file order.
//
// Errors name the file and, for a bad array, the array: "w.npz: array
// 'fc.weight': truncated ...". A file that is not a zip archive (a text file
// renamed .npz), a corrupt archive, a CRC mismatch and any .npy problem
// (see weights/npy.h) are ember::Errors, never crashes.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace ember {

// Arrays by name, in the order of the file (PyTorch's state_dict order).
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

NamedTensors load_npz(const std::string& path);
// The same, for an archive held in memory; `where` names it in errors.
NamedTensors parse_npz(const void* data, size_t size, const std::string& where);

// Writes the arrays as NAME.npy entries (compressed: deflate, as
// np.savez_compressed; else stored, as np.savez), atomically. Names must be
// unique and non-empty; tensors may live on any device.
void save_npz(const std::string& path, const NamedTensors& arrays, bool compress = false);

// Name -> tensor, for lookups; throws if a name appears twice.
std::map<std::string, Tensor> to_map(const NamedTensors& arrays, const std::string& where);

}  // namespace ember
