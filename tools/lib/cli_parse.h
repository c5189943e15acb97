// Parsing helpers for command-line values.
#pragma once

#include <string>

#include "engine/shape.h"

namespace ember {

// "3x224x224" (or "3,224,224") -> {3, 224, 224}; errors name the option.
Shape parse_shape(const std::string& text, const char* option);

}  // namespace ember
