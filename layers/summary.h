// A Keras-like model summary: every leaf layer in the order forward runs it,
// with its output shape and parameter count, then the totals:
//
//   Layer (type)                        Output Shape              Param #
//   ======================================================================
//   conv1 (Conv2d)                      [1, 64, 112, 112]            9408
//   ...
//   ======================================================================
//   Total params: 11689512
//   Trainable params: 11689512
//   Non-trainable params: 0
//
// Parameters are counted as PyTorch does (buffers such as BN running
// statistics are not parameters); frozen parameters are non-trainable.
#pragma once

#include <string>

#include "layers/module.h"

namespace ember {

// Runs one forward pass in eval mode, without gradients, on zeros of `input`
// (e.g. {1, 3, 224, 224}) and returns the table.
std::string model_summary(Module& model, const Shape& input);

}  // namespace ember
