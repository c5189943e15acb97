// `ember run`: runs a model on .npy inputs and writes its outputs as .npy.
//
//   ember run --weights resnet18.onnx --input x.npy --output y.npy [--device cuda]
//
// With --weights FILE.onnx alone the ONNX graph itself runs on Ember's ops
// (weights/onnx_runner.h). With --model NAME the named Ember model runs
// with --weights FILE.npz (run_model_command, in run_model_command.cpp).
#include <chrono>
#include <cstdio>

#include "engine/ember.h"
#include "tools/ember/commands.h"
#include "weights/npy.h"
#include "weights/onnx_runner.h"

namespace ember::cli {
namespace {

std::string describe(const Tensor& t) {
  std::string s = cat_str(dtype_name(t.dtype()), " ", t.shape());
  // A classifier's [1, K] scores: say which class wins.
  if (t.dim() == 2 && t.size(0) == 1 && t.size(1) > 1 && t.is_floating_point()) {
    Tensor c = t.to(kCPU).to(DType::Float64);
    s += cat_str(", argmax ", argmax(c).item<int64_t>(), " (", max(c).item<double>(), ")");
  }
  return s;
}

int run_onnx(const RunOptions& o) {
  const Device device = Device::parse(o.device);
  if (device.is_cuda() && !cuda_available()) fail("run", "--device ", o.device, ": no CUDA device is available");
  OnnxRunner runner(o.weights, device);
  const auto& ins = runner.inputs();
  const auto& outs = runner.outputs();
  if (o.inputs.size() != ins.size()) {
    std::string names;
    for (const auto& i : ins) names += (names.empty() ? "" : ", ") + i.name;
    fail("run", o.weights, " takes ", ins.size(), " input(s) (", names, "), got ", o.inputs.size(), " --input");
  }
  if (o.outputs.size() > outs.size()) {
    fail("run", o.weights, " has ", outs.size(), " output(s), got ", o.outputs.size(), " --output");
  }
  std::vector<Tensor> xs;
  for (size_t i = 0; i < ins.size(); ++i) {
    Tensor x = load_npy(o.inputs[i]);
    // NumPy defaults to float64; a float model gets its own float type.
    if (x.dtype() != ins[i].dtype && x.is_floating_point() && is_floating(ins[i].dtype)) {
      std::printf("note: %s is %s, converted to %s for input '%s'\n", o.inputs[i].c_str(), dtype_name(x.dtype()),
                  dtype_name(ins[i].dtype), ins[i].name.c_str());
      x = x.to(ins[i].dtype);
    }
    xs.push_back(x);
  }
  std::printf("ember run: %s (opset %lld) on %s\n", o.weights.c_str(), static_cast<long long>(runner.opset()),
              device.str().c_str());
  // On a GPU the ops only queue kernels: wait for them on both sides of the clock.
  auto sync = [&] {
    if (device.is_cuda()) backend(device).synchronize(device);
  };
  sync();
  const auto start = std::chrono::steady_clock::now();
  std::vector<Tensor> ys = runner.run(xs);
  sync();
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  for (size_t i = 0; i < ys.size(); ++i) {
    std::printf("output '%s': %s", outs[i].name.c_str(), describe(ys[i]).c_str());
    if (i < o.outputs.size()) {
      save_npy(o.outputs[i], ys[i]);
      std::printf(" -> %s", o.outputs[i].c_str());
    }
    std::printf("\n");
  }
  std::printf("ran in %.1f ms\n", ms);
  return 0;
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Run a model on .npy inputs and write its outputs as .npy");
  cmd->add_option("--model", o->model, "Ember model name (with --weights FILE.npz); omit to run an ONNX graph");
  cmd->add_option("--weights", o->weights, "MODEL.onnx (or the .npz weights for --model)")->required();
  cmd->add_option("--input", o->inputs, "Input .npy file, once per graph input, in graph order")->required();
  cmd->add_option("--output", o->outputs, "Output .npy file, once per graph output (optional)");
  cmd->add_option("--device", o->device, "cpu or cuda[:N]")->capture_default_str();
  cmd->add_option("--num-classes", o->num_classes, "--model: classifier size")->capture_default_str();
  cmd->add_flag("--train", o->train_mode, "--model: run in train mode (batch statistics, dropout)");
  cmd->callback([o] {
    if (!o->model.empty()) {
      run_model_command(*o);
    } else {
      run_onnx(*o);
    }
  });
}

}  // namespace ember::cli
