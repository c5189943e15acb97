// The ember subcommands; each file registers one on the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace ember::cli {

void add_demo_command(CLI::App& app);
void add_summary_command(CLI::App& app);  // also `ember models`
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_augment_command(CLI::App& app);  // tools/ember/augment_command.cpp
void add_bench_command(CLI::App& app);    // tools/ember/bench_command.cpp (`ember bench data`)
void add_bench_models_command(CLI::App& bench);  // tools/ember/bench_models_command.cpp (`ember bench models`)
void add_bench_loader_command(CLI::App& bench);  // tools/ember/bench_loader_command.cpp (`ember bench loader`)

// `ember run` (tools/ember/run_command.cpp) runs an ONNX graph itself; with
// --model it hands over to run_model_command (tools/ember/run_model_command.cpp:
// an Ember model from the registry with .npz or .onnx weights).
struct RunOptions {
  std::string model;    // a model name ("resnet18"); empty: --weights is an ONNX graph
  std::string weights;  // MODEL.onnx, or the .npz for --model
  std::vector<std::string> inputs, outputs;  // .npy files, in graph order
  std::string device = "cpu";
  int64_t num_classes = 1000;  // --model: the classifier's size
  bool train_mode = false;     // --model: run in train mode (batch statistics)
};
int run_model_command(const RunOptions& options);

}  // namespace ember::cli
