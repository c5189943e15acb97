// Inference latency of one model, measured in turns with another process
// (another build of Ember, for tools/bench/compare_builds.py): each process
// runs one forward pass, then hands a token to the other over a pair of
// FIFOs and waits for it back. Both builds thus see the same phases of a
// shared machine, whose speed drifts by tens of percent from one second to
// the next; timing one build after the other lets that drift land on one
// of them only.
// Prints one JSON line: {"model", "turns", "best_ms", "p25_ms", "median_ms"}.
// Usage: turns_bench --model NAME --wait FIFO --signal FIFO [--first]
//                    [--turns N] [--threads N] [--size N] [--batch N]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/ember.h"
#include "models/registry.h"

using namespace ember;  // NOLINT

namespace {

[[noreturn]] void usage(const char* problem) {
  std::fprintf(stderr,
               "turns_bench: %s\nusage: turns_bench --model NAME --wait FIFO --signal FIFO [--first] [--turns N] "
               "[--threads N] [--size N] [--batch N]\n",
               problem);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_name, wait_path, signal_path;
  bool first = false;
  int64_t turns = 40, size = 224, batch = 1;
  int threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage((arg + " needs a value").c_str());
      return argv[++i];
    };
    if (arg == "--model") model_name = value();
    else if (arg == "--wait") wait_path = value();
    else if (arg == "--signal") signal_path = value();
    else if (arg == "--first") first = true;
    else if (arg == "--turns") turns = std::atoll(value().c_str());
    else if (arg == "--threads") threads = std::atoi(value().c_str());
    else if (arg == "--size") size = std::atoll(value().c_str());
    else if (arg == "--batch") batch = std::atoll(value().c_str());
    else usage(("unknown option " + arg).c_str());
  }
  if (model_name.empty() || wait_path.empty() || signal_path.empty()) usage("--model, --wait and --signal are required");
  if (turns < 1 || size < 1 || batch < 1) usage("--turns, --size and --batch must be positive");
  if (threads > 0) set_num_threads(threads);

  manual_seed(0);
  ModulePtr model = create_model(model_name, 1000);
  model->eval();
  const Tensor x = randn({batch, 3, size, size});
  NoGradGuard no_grad;
  (*model)(x);  // warm-up: allocator, packing buffers, pages
  (*model)(x);

  // Read-write opens: a FIFO opened for writing alone blocks until a reader
  // comes, and the two processes would wait for each other.
  const int wait_fd = open(wait_path.c_str(), O_RDWR), signal_fd = open(signal_path.c_str(), O_RDWR);
  if (wait_fd < 0 || signal_fd < 0) {
    std::fprintf(stderr, "turns_bench: cannot open %s: %s\n", wait_fd < 0 ? wait_path.c_str() : signal_path.c_str(),
                 std::strerror(errno));
    return 1;
  }
  char token = 't';
  auto hand_over = [&] { return write(signal_fd, &token, 1) == 1; };
  auto take_turn = [&] { return read(wait_fd, &token, 1) == 1; };
  // Both ready (models built, warmed up) before the first timed pass, so
  // that neither times a pass beside the other's start-up.
  if (!hand_over() || !take_turn()) return 1;
  std::vector<double> ms;
  for (int64_t t = 0; t < turns; ++t) {
    if ((t > 0 || !first) && !take_turn()) return 1;
    const auto start = std::chrono::steady_clock::now();
    (*model)(x);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    if (!hand_over()) return 1;
  }
  // The first to start waits for the other's last pass before it exits.
  if (first && !take_turn()) return 1;
  std::sort(ms.begin(), ms.end());
  std::printf("%s\n", nlohmann::json{{"model", model_name},
                                     {"turns", turns},
                                     {"best_ms", ms.front()},
                                     {"p25_ms", ms[ms.size() / 4]},
                                     {"median_ms", ms[ms.size() / 2]}}
                          .dump()
                          .c_str());
  return 0;
}
