// Tensors stored in ONNX files: a model's initializers (its weights, by the
// names the exporter gave them, e.g. "layer1.0.conv1.weight") and single
// serialized TensorProto files (ONNX's test data, input_0.pb).
//
// Every ONNX numeric type is read, from raw_data or the typed fields; types
// Ember lacks widen losslessly (int8/int16/uint16 -> int32, uint32/uint64 ->
// int64). External data, strings and complex numbers are clear errors.
#pragma once

#include <string>

#include "engine/tensor.h"
#include "weights/npz.h"

namespace ember {

// The initializers of the model's main graph, in file order, on the CPU.
NamedTensors load_onnx_initializers(const std::string& path);
// The same, for a model held in memory; `where` names it in errors.
NamedTensors parse_onnx_initializers(const void* data, size_t size, const std::string& where);

// A file holding one serialized onnx.TensorProto.
Tensor load_onnx_tensor(const std::string& path);

}  // namespace ember
