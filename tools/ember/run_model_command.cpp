// `ember run --model NAME --weights FILE.npz --input X.npy --output Y.npy`:
// one forward pass of a registry model on a float32 NCHW batch, in eval mode
// unless --train, writing the logits as .npy. The weights' names are the
// torchvision state_dict's (a .npz from weights/convert_torchvision.py, or an
// ONNX file's initializers); anything missing, extra or misshapen is an error.
#include <chrono>
#include <cstdio>

#include "engine/ember.h"
#include "models/registry.h"
#include "tools/ember/commands.h"
#include "tools/train/model_setup.h"
#include "weights/npy.h"

namespace ember::cli {

int run_model_command(const RunOptions& o) {
  const Device device = Device::parse(o.device);
  if (device.is_cuda() && !cuda_available()) fail("run", "--device ", o.device, ": no CUDA device is available");
  if (o.inputs.size() != 1) fail("run", "--model ", o.model, " takes exactly one --input, got ", o.inputs.size());
  if (o.outputs.size() > 1) fail("run", "--model ", o.model, " writes one --output, got ", o.outputs.size());

  ModulePtr model = create_model(o.model, o.num_classes);
  LoadReport report = model->load_state_dict(read_weights_file(o.weights), /*strict=*/false);
  if (!report.ok()) {
    fail("run", o.weights, " does not fit ", o.model, " with ", o.num_classes, " classes: ", report.str(),
         " (is --num-classes right?)");
  }
  Tensor x = load_npy(o.inputs[0]);
  EMBER_CHECK(x.is_floating_point() && x.dim() == 4, "run", o.inputs[0], ": expected a float NCHW batch, got ",
              dtype_name(x.dtype()), " ", x.shape());
  if (x.dtype() != DType::Float32) x = x.to(DType::Float32);
  model->to(device);
  if (o.train_mode) {
    model->train();
  } else {
    model->eval();
  }
  std::printf("ember run: %s (%s mode, %lld classes) with %s on %s\n", o.model.c_str(), o.train_mode ? "train" : "eval",
              static_cast<long long>(o.num_classes), o.weights.c_str(), device.str().c_str());
  const auto start = std::chrono::steady_clock::now();
  Tensor y;
  {
    NoGradGuard no_grad;
    y = (*model)(x.to(device)).to(kCPU);
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("output: float32 %s", shape_str(y.shape()).c_str());
  if (!o.outputs.empty()) {
    save_npy(o.outputs[0], y);
    std::printf(" -> %s", o.outputs[0].c_str());
  }
  std::printf("\nran in %.1f ms\n", ms);
  return 0;
}

}  // namespace ember::cli
