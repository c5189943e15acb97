// CPU speed of whole models, for tools/bench/compare_cpu.py --suite models:
// inference latency at batch 1 and one SGD training step at batch 16, 224x224.
// Prints one JSON object per line: {"name": ..., "ms": median milliseconds}.
// Usage: cpu_models_bench [threads] [model ...]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "engine/ember.h"
#include "layers/layers.h"
#include "models/registry.h"

using namespace ember;  // NOLINT

namespace {

template <class F>
double median_ms(F&& fn, int min_runs, double budget_s) {
  fn();  // warm-up
  std::vector<double> times;
  auto start = std::chrono::steady_clock::now();
  while (static_cast<int>(times.size()) < min_runs ||
         (times.size() < 20 && std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < budget_s)) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void report(const std::string& name, double ms) {
  std::printf("%s\n", nlohmann::json{{"name", name}, {"ms", ms}}.dump().c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) set_num_threads(std::atoi(argv[1]));
  std::vector<std::string> names;
  for (int i = 2; i < argc; ++i) names.push_back(argv[i]);
  if (names.empty()) names = {"resnet18", "resnet50", "mobilenet_v2", "efficientnet_b0", "densenet121"};
  manual_seed(0);
  for (const std::string& name : names) {
    ModulePtr model = create_model(name, 1000);
    model->eval();
    Tensor x1 = randn({1, 3, 224, 224});
    report(name + " inference batch 1", median_ms([&] {
             NoGradGuard no_grad;
             (*model)(x1);
           }, 5, 3.0));
    model->train();
    SGD opt(single_group(model->parameters(), 0.01), SgdOptions{0.9});
    Tensor x16 = randn({16, 3, 224, 224});
    std::vector<int64_t> labels(16);
    for (int64_t i = 0; i < 16; ++i) labels[static_cast<size_t>(i)] = (i * 37) % 1000;
    Tensor y16 = from_vector(labels, {16});
    report(name + " train step batch 16", median_ms([&] {
             Tensor loss = cross_entropy((*model)(x16), y16);
             opt.zero_grad();
             loss.backward();
             opt.step();
           }, 3, 10.0));
  }
  return 0;
}
