// libFuzzer target: arbitrary bytes as an ONNX model. Reads the
// initializers, builds the runner (which checks every node) and, when the
// declared inputs are small and fixed, runs the graph on zeros: every path
// must end in tensors or an ember::Error, never a crash.
#include <cstddef>
#include <cstdint>

#include "engine/ember.h"
#include "weights/onnx_runner.h"
#include "weights/onnx_tensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ember::set_num_threads(1);
  try {
    ember::parse_onnx_initializers(data, size, "fuzz.onnx");
  } catch (const ember::Error&) {
  }
  try {
    ember::OnnxRunner runner(data, size, "fuzz.onnx");
    std::vector<ember::Tensor> inputs;
    for (const auto& in : runner.inputs()) {
      ember::Shape shape;
      for (int64_t d : in.shape) shape.push_back(d < 0 ? 1 : d);
      if (ember::shape_numel(shape) > 4096 || shape.size() > 6) return 0;
      inputs.push_back(ember::zeros(shape, in.dtype));
    }
    runner.run(inputs);
  } catch (const ember::Error&) {
  }
  return 0;
}
