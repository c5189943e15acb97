// ONNX protobuf messages to Ember: TensorProto -> Tensor (every numeric
// type, raw_data or typed fields), element-type names, and loading a
// ModelProto from a file or from memory. Internal to weights/ (the public
// headers, weights/onnx_tensors.h and weights/onnx_runner.h, do not expose
// protobuf types).
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

#include "engine/tensor.h"

namespace ember::onnx_import {

// The Ember dtype holding ONNX element type `elem_type`. Types Ember lacks
// widen losslessly: int8/int16/uint16 -> int32, uint32/uint64 -> int64
// (uint64 values above 2^63-1 are an error). Strings and complex numbers
// are errors naming `where`.
DType dtype_for(int elem_type, const std::string& where);
std::string elem_type_name(int elem_type);  // "FLOAT", "INT64", ...

// The tensor a TensorProto holds, on the CPU. External data and segments
// are clear errors; sizes are checked against the dims before allocating.
Tensor tensor_from_proto(const onnx::TensorProto& p, const std::string& where);

// Parses a ModelProto and checks it has a graph; errors name `where`.
onnx::ModelProto parse_model(const void* data, size_t size, const std::string& where);
onnx::ModelProto read_model(const std::string& path);
// The opset of the default ("" / "ai.onnx") domain.
int64_t default_opset(const onnx::ModelProto& model, const std::string& where);

}  // namespace ember::onnx_import
