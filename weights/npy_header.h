// The header of a .npy file: a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// parsed by hand (it is a tiny, fixed grammar) and formatted for writing.
#pragma once

#include <string>
#include <string_view>

#include "engine/dtype.h"
#include "engine/shape.h"

namespace ember {

struct NpyHeader {
  DType dtype = DType::Float32;
  Shape shape;
};

// Parses the dict text (after the length field); `where` names the file in
// errors. Rejects big-endian and Fortran-order arrays and unsupported dtypes.
NpyHeader parse_npy_header_dict(std::string_view text, const std::string& where);

// "<f4", "|b1", ...; throws for bfloat16, which NumPy lacks.
std::string npy_descr(DType dtype, const std::string& where);

// The dict text for a C-order little-endian array, without padding.
std::string format_npy_header_dict(DType dtype, const Shape& shape, const std::string& where);

}  // namespace ember
