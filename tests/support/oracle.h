// Test helpers: PyTorch as the oracle (tinygrad-style one-line op tests),
// finite-difference gradient checks in float64, and error-message checks.
//
//   check_op({in::randn({4, 5}), in::randn({5})}, "a * b", [](const Inputs& x) { return x[0] * x[1]; });
//
// runs the Ember lambda and the PyTorch expression (inputs are named a, b, c,
// ... there) on the same random inputs, backpropagates the same random
// upstream gradient through both, and compares outputs and input gradients.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "engine/ember.h"

namespace ember::test {

using Inputs = std::vector<Tensor>;

// How one input of a check is made.
struct InputSpec {
  enum Kind { Normal, Uniform, Integers, Boolean, Given } kind = Normal;
  Shape shape;
  DType dtype = DType::Float32;
  double low = 0, high = 1;  // Uniform and Integers ([low, high))
  Tensor given;
  bool requires_grad = true;
};

// Input makers, used as in::randn({4, 5}).
namespace in {
InputSpec randn(const Shape& shape, DType dtype = DType::Float32);
InputSpec uniform(const Shape& shape, double low, double high, DType dtype = DType::Float32);
InputSpec positive(const Shape& shape);  // uniform in [0.5, 2), for log/sqrt/div
InputSpec integers(const Shape& shape, int64_t low, int64_t high, DType dtype = DType::Int64);
InputSpec booleans(const Shape& shape);
InputSpec given(const Tensor& t, bool requires_grad = false);
InputSpec no_grad(InputSpec spec);  // the same input, excluded from the gradient check
}  // namespace in

struct Tolerance {
  double forward = 1e-5;   // max |ember - torch| / max |torch| over the outputs
  double backward = 1e-5;  // the same over the input gradients
};
inline constexpr Tolerance kElementwise{1e-5, 1e-5};
inline constexpr Tolerance kAccumulating{1e-4, 1e-4};  // conv, matmul, reductions

// Runs the check described above; records a test failure naming the
// expression and the error. `setup` is Python run before the expression.
void check_op(const std::vector<InputSpec>& inputs, const std::string& torch_expr,
              const std::function<std::vector<Tensor>(const Inputs&)>& ember_fn, Tolerance tol = kElementwise,
              const std::string& setup = "");
void check_op(const std::vector<InputSpec>& inputs, const std::string& torch_expr,
              const std::function<Tensor(const Inputs&)>& ember_fn, Tolerance tol = kElementwise,
              const std::string& setup = "");

// Evaluates a PyTorch expression over `inputs` (no gradients) and returns
// its outputs as float64/int64/bool tensors.
std::vector<Tensor> torch_eval(const std::string& expr, const Inputs& inputs, const std::string& setup = "");
// The same for an expression giving a dict of tensors (a state_dict): the
// entries in the dict's order.
std::vector<std::pair<std::string, Tensor>> torch_eval_named(const std::string& expr, const Inputs& inputs,
                                                             const std::string& setup = "");

// True when the oracle can run; otherwise skips the test (or fails it when
// EMBER_REQUIRE_ORACLE=1, as the project's test command sets).
bool oracle_available_or_skip();
#define EMBER_REQUIRE_TORCH()                            \
  do {                                                   \
    if (!::ember::test::oracle_available_or_skip()) {    \
      GTEST_SKIP() << ::ember::test::oracle_skip_reason(); \
    }                                                    \
  } while (0)
std::string oracle_skip_reason();

// Compares autograd's gradients of fn at float64 `inputs` with central
// differences of sum(fn(inputs) * w) for a fixed random w.
void gradcheck(const std::function<std::vector<Tensor>(const Inputs&)>& fn, const Inputs& inputs, double eps = 1e-6,
               double atol = 1e-7, double rtol = 1e-5);
void gradcheck(const std::function<Tensor(const Inputs&)>& fn, const Inputs& inputs, double eps = 1e-6,
               double atol = 1e-7, double rtol = 1e-5);

// A float64 leaf requiring grad with values from N(0,1) (seeded per call).
Tensor leaf64(const Shape& shape, double low = -2, double high = 2);

// Expects fn to throw ember::Error whose message contains every fragment.
void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> fragments);

// max |a - b| / max |b| (0 when both are all zeros); NaNs must match.
double relative_error(const Tensor& actual, const Tensor& expected);

}  // namespace ember::test
