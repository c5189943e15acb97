// CPU speed of Ember's kernels, for tools/bench/compare_cpu.py to set beside
// PyTorch: conv2d forward+backward on ResNet-18's layer shapes,
// cross-entropy forward+backward, and one training step of the demo's small
// CNN. Prints one JSON object per line:
//   {"name": ..., "ms": median milliseconds}
// Usage: cpu_ops_bench SHAPES.json [threads]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/ember.h"

using namespace ember;  // NOLINT

namespace {

// Median wall time of fn in milliseconds: 2 warm-up runs, then at least 3
// and at most 20 timed runs, stopping after about 2 seconds.
template <class F>
double median_ms(F&& fn) {
  fn();
  fn();
  std::vector<double> times;
  auto start = std::chrono::steady_clock::now();
  while (times.size() < 3 || (times.size() < 20 && std::chrono::steady_clock::now() - start < std::chrono::seconds(2))) {
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
  if (argc < 2) {
    std::fprintf(stderr, "usage: cpu_ops_bench SHAPES.json [threads]\n");
    return 2;
  }
  if (argc > 2) set_num_threads(std::atoi(argv[2]));
  std::ifstream f(argv[1]);
  nlohmann::json cfg = nlohmann::json::parse(f);
  manual_seed(0);
  const int64_t n = cfg["conv_batch"];
  for (const auto& c : cfg["convs"]) {
    int64_t ch = c["c"], oc = c["oc"], hw = c["hw"], k = c["k"], s = c["s"], p = c["p"];
    Tensor x = randn({n, ch, hw, hw}).requires_grad_();
    Tensor w = randn({oc, ch, k, k}).requires_grad_();
    Tensor y0 = conv2d(x, w, Tensor(), {s, s}, {p, p});
    Tensor g = randn(y0.shape());
    double ms = median_ms([&] {
      Tensor y = conv2d(x, w, Tensor(), {s, s}, {p, p});
      y.backward(g);
    });
    report("conv fwd+bwd " + c["name"].get<std::string>(), ms);
  }
  // Cross-entropy forward+backward (mean over the batch), class targets.
  for (const auto& c : cfg["cross_entropy"]) {
    const int64_t rows = c["n"], classes = c["c"];
    const double smoothing = c["smoothing"];
    Tensor logits = randn({rows, classes}).requires_grad_();
    std::vector<int64_t> labels(static_cast<size_t>(rows));
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i * 37) % classes;
    Tensor target = from_vector(labels, {rows});
    double ms = median_ms([&] {
      logits.set_grad(Tensor());
      cross_entropy(logits, target, Tensor(), -100, Reduction::Mean, smoothing).backward();
    });
    report("cross_entropy fwd+bwd " + c["name"].get<std::string>(), ms);
  }
  // The demo's small CNN: one Adam training step at the given batch.
  const int64_t b = cfg["small_cnn_batch"];
  auto param = [](const Shape& shape, int64_t fan_in) {
    double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    return uniform(shape, -bound, bound).requires_grad_();
  };
  Tensor c1 = param({8, 1, 3, 3}, 9), c2 = param({16, 8, 3, 3}, 72), fw = param({10, 784}, 784), fb = param({10}, 784);
  Tensor g1 = ones({8}).requires_grad_(), b1 = zeros({8}).requires_grad_();
  Tensor g2 = ones({16}).requires_grad_(), b2 = zeros({16}).requires_grad_();
  Tensor rm1 = zeros({8}), rv1 = ones({8}), rm2 = zeros({16}), rv2 = ones({16});
  Adam opt(single_group({c1, g1, b1, c2, g2, b2, fw, fb}, 1e-3));
  Tensor x = randn({b, 1, 28, 28});
  Tensor y = from_vector(std::vector<int64_t>(static_cast<size_t>(b), 3), {b});
  double ms = median_ms([&] {
    Tensor h = max_pool2d(relu(batch_norm(conv2d(x, c1, Tensor(), {1, 1}, {1, 1}), rm1, rv1, g1, b1, true)), {2, 2});
    h = max_pool2d(relu(batch_norm(conv2d(h, c2, Tensor(), {1, 1}, {1, 1}), rm2, rv2, g2, b2, true)), {2, 2});
    Tensor loss = cross_entropy(linear(h.flatten(1), fw, fb), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
  });
  report("small CNN train step (batch " + std::to_string(b) + ")", ms);
  return 0;
}
