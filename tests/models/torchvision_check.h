// Checks an Ember model against its torchvision twin built with the same
// constructor arguments: state_dict names, order and shapes; parameter count;
// eval-mode logits for the same weights and input; and, in train mode, the
// logits, every parameter gradient and the updated BN running statistics.
// Dropout and stochastic depth draw different random masks in the two
// engines, so the train-mode check sets their probabilities to 0 on both sides.
#pragma once

#include <string>

#include "layers/module.h"
#include "tests/support/oracle.h"

namespace ember::test {

struct ModelCheck {
  std::string ember_name;     // registry name ("resnet18")
  std::string torch_ctor;     // Python building the model ("torchvision.models.resnet18(num_classes=10)")
  int64_t num_classes = 10;
  Shape eval_input{2, 3, 224, 224};
  Shape train_input{2, 3, 64, 64};  // empty: skip the train-mode check
  double eval_tol = 1e-4;
  double grad_tol = 1e-3;
  // Train-mode BN at small batches makes deep networks' gradients extremely
  // sensitive to rounding (float32 differences of 1e-7 grow to 1e-1 through
  // resnet152 at batch 2), so the train check runs both sides in float64 by
  // default, where they agree to ~1e-8, and the float32 check is for shallow models.
  DType train_dtype = DType::Float64;
  // Python run before torch_ctor on every request (e.g. defining a PyTorch
  // twin of a model torchvision lacks; torch_ctor then names it).
  std::string torch_prelude = {};
  // Where Ember runs the model. On CUDA, PyTorch runs its twin on its own GPU
  // too when it has one (TF32 off on both sides), else on the CPU.
  Device device = kCPU;
};

void check_against_torchvision(const ModelCheck& c);

}  // namespace ember::test
