// `ember bench models`: inference latency and training throughput of whole
// models, for the side-by-side comparison with PyTorch and ONNX Runtime that
// tools/bench/compare_models.py runs (tools/bench/torch_models.py does the
// same work in PyTorch, with the same options and the same JSON fields).
//
// Per model and mode it times iterations after a warm-up and reports the
// median, p10 and p90 milliseconds, images per second and the peak memory:
//   infer  forward at --infer-batch under no-grad, model in eval mode
//   train  forward, cross-entropy, backward and an SGD step (momentum 0.9)
//          at --train-batch, model in train mode
// --precision float16 / bfloat16 runs both under autocast (float32 master
// weights), float16 training with a GradScaler, as torch_models.py does.
// --no-fusion runs batch norm + activation and residual add + ReLU as
// separate ops (layers/fusion.h), to measure what fusing them gives.
// --cuda-graphs (CUDA) runs each step as a replayed CUDA graph
// (engine/captured_step.h): inference's forward, and training's forward,
// backward and SGD step; with float16 the loss scale is a device tensor and
// the scaler's unscale, skip decision and update stay outside the graph, as
// they read a flag back (torch_models.py --cuda-graphs does the same).
// On CUDA every iteration ends with a device synchronize, so the time is
// the work's, not the launch queue's.
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/backend_config.h"
#include "engine/ember.h"
#include "layers/fusion.h"
#include "models/registry.h"
#include "tools/ember/commands.h"
#include "tools/lib/edit_distance.h"

namespace ember::cli {
namespace {

using json = nlohmann::ordered_json;  // fields print in the order written

struct BenchModelsOptions {
  std::vector<std::string> models = {"resnet50", "efficientnet_b0", "mobilenet_v2", "densenet121", "resnet18"};
  std::string mode = "both";
  int64_t batch = 0;  // when set, both modes use it
  int64_t train_batch = 16, infer_batch = 1, size = 224;
  std::string device = "cpu", precision = "float32";
  int threads = 0;  // 0: leave Ember's default (all cores)
  int warmup = 2, iters = 5;
  double min_time = 2.0;
  bool channels_last = false, cudnn_benchmark = false, tf32 = false, json = false, no_fusion = false;
  bool cuda_graphs = false;
};

// Fails unless every name is a registered model, suggesting the closest.
void check_model_names(const std::vector<std::string>& names) {
  const std::vector<std::string> known = model_names();
  for (const std::string& name : names) {
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string hint = closest_name(name, known, std::max<size_t>(3, name.size() / 3));
    std::string list;
    for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
    fail("bench models", "unknown model '", name, "'", hint.empty() ? "" : " (did you mean '" + hint + "'?)",
         "; known models: ", list);
  }
}

Device checked_device(const std::string& text) {
  const Device device = Device::parse(text);
  if (!device.is_cuda()) return device;
#ifndef EMBER_WITH_CUDA
  fail("bench models", "--device ", text, ": this ember was built without CUDA (configure with -DEMBER_CUDA=ON)");
#endif
  const int count = cuda_device_count();
  if (count == 0) fail("bench models", "--device ", text, ": no CUDA device is available on this machine");
  if (device.index >= count) fail("bench models", "--device ", text, ": only ", count, " CUDA device(s) found");
  return device;
}

// Peak resident memory of this process on Linux. Writing "5" to
// /proc/self/clear_refs resets the high-water mark (VmHWM) to the current
// resident size (VmRSS), so the growth over one run can be read afterwards.
// PyTorch's script measures its CPU runs the same way, so the two compare.
class RssPeak {
 public:
  RssPeak() {
    malloc_trim(0);  // give back what earlier runs freed, so it is not counted as a baseline
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
    clear.flush();
    ok_ = static_cast<bool>(clear);
    start_kb_ = read_kb("VmRSS:");
  }
  // Megabytes above the start; negative when the kernel refused the reset.
  double growth_mb() const { return ok_ && start_kb_ >= 0 ? (read_kb("VmHWM:") - start_kb_) / 1024.0 : -1.0; }

 private:
  static double read_kb(const std::string& key) {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind(key, 0) == 0) return std::stod(line.substr(key.size()));
    }
    return -1;
  }
  bool ok_ = false;
  double start_kb_ = -1;
};

// Peak bytes held by live tensors on `device`, above what was held at the
// start: the caching allocator's statistic on CUDA (the same quantity as
// torch.cuda.max_memory_allocated), the host allocator's on the CPU.
class AllocatorPeak {
 public:
  explicit AllocatorPeak(Device device) : allocator_(backend(device).allocator(device)) {
    allocator_.reset_peak();
    start_ = allocator_.stats().allocated_bytes;
  }
  double growth_mb() const { return static_cast<double>(allocator_.stats().peak_allocated_bytes - start_) / (1 << 20); }

 private:
  Allocator& allocator_;
  int64_t start_ = 0;
};

// The q-quantile of sorted values, interpolating linearly between
// neighbours (NumPy's default, which torch_models.py uses).
double quantile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

// Milliseconds of each timed call of `step`, sorted: `warmup` untimed calls,
// then at least `iters` and until `min_time` seconds have passed.
template <class Step>
std::vector<double> time_steps(Step&& step, const BenchModelsOptions& o, Device device) {
  using clock = std::chrono::steady_clock;
  auto synced_step = [&] {
    step();
    if (device.is_cuda()) backend(device).synchronize(device);
  };
  for (int i = 0; i < o.warmup; ++i) synced_step();
  std::vector<double> ms;
  const auto start = clock::now();
  while (static_cast<int>(ms.size()) < o.iters ||
         std::chrono::duration<double>(clock::now() - start).count() < o.min_time) {
    const auto t0 = clock::now();
    synced_step();
    ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms;
}

json measure(const std::string& name, const std::string& mode, const BenchModelsOptions& o, Device device) {
  const int64_t batch = mode == "train" ? o.train_batch : o.infer_batch;
  RssPeak rss;  // started before the model exists: its weights count, as on CUDA
  AllocatorPeak tensors(device);
  manual_seed(0);
  ModulePtr model = create_model(name, 1000);
  model->to(device);
  Tensor x = randn({batch, 3, o.size, o.size}, TensorOptions(device));
  if (o.channels_last) {  // as torch_models.py: model.to(memory_format=...) and the input alike
    model->to(MemoryFormat::ChannelsLast);
    x = x.contiguous(MemoryFormat::ChannelsLast);
  }
  // float16 / bfloat16: autocast over float32 master weights, and dynamic
  // loss scaling for float16, as torch_models.py does with torch.autocast
  // and GradScaler.
  const std::optional<DType> amp = autocast_dtype_of(o.precision, "--precision");
  std::vector<double> ms;
  // One eager warm-up before a capture: cuDNN times its algorithms and the
  // optimizer makes its momentum buffers outside the graph.
  constexpr int kGraphWarmup = 1;
  if (mode == "infer") {
    model->eval();
    Tensor logits;
    auto forward = [&] {
      NoGradGuard no_grad;
      AutocastGuard autocast(amp);
      logits = (*model)(x);
    };
    if (o.cuda_graphs) {
      CapturedStep step(device, forward, kGraphWarmup);
      ms = time_steps([&] { step(); }, o, device);
    } else {
      ms = time_steps(forward, o, device);
    }
  } else {
    model->train();
    SGD opt(single_group(model->parameters(), 0.01), SgdOptions{0.9});
    GradScalerOptions scaling;
    scaling.enabled = amp == DType::Float16;
    GradScaler scaler(scaling);
    std::vector<int64_t> labels(static_cast<size_t>(batch));
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i * 37 % 1000);
    Tensor y = from_vector(labels, {batch}, device);
    if (!o.cuda_graphs) {
      ms = time_steps([&] {
        Tensor loss;
        {
          AutocastGuard autocast(amp);
          loss = cross_entropy((*model)(x), y);
        }
        opt.zero_grad();
        scaler.scale(loss).backward();
        scaler.step(opt);
        scaler.update();
      }, o, device);
    } else {
      // The graph bakes in host scalars, so the loss scale lives on the device.
      Tensor scale = full({}, scaler.get_scale(), TensorOptions(DType::Float32, device));
      CapturedStep step(device, [&] {
        Tensor loss;
        {
          AutocastGuard autocast(amp);
          loss = cross_entropy((*model)(x), y);
        }
        opt.zero_grad();
        if (!scaler.enabled()) {
          loss.backward();
          opt.step();  // lr and momentum are fixed here, so the captured scalars stay right
          return;
        }
        mul(loss, scale).backward();
      }, kGraphWarmup);
      ms = time_steps([&] {
        if (scaler.enabled()) scale.fill_(scaler.get_scale());
        step();
        if (scaler.enabled()) {
          scaler.step(opt);
          scaler.update();
        }
      }, o, device);
    }
  }
  const double median = quantile(ms, 0.5);
  json row = {{"runner", "ember"}, {"model", name}, {"mode", mode}, {"batch", batch}, {"size", o.size},
              {"device", device.str()}, {"precision", o.precision}, {"channels_last", o.channels_last},
              {"fusion", !o.no_fusion}, {"cuda_graphs", o.cuda_graphs},
              {"threads", num_threads()}, {"warmup", o.warmup}, {"iters", ms.size()}, {"median_ms", median},
              {"p10_ms", quantile(ms, 0.1)}, {"p90_ms", quantile(ms, 0.9)},
              {"images_per_s", static_cast<double>(batch) * 1000.0 / median}};
  if (device.is_cuda()) {
    row["peak_mem_mb"] = tensors.growth_mb();
    row["mem_measure"] = "cuda_allocator_peak";
    row["cudnn_benchmark"] = o.cudnn_benchmark;
    row["tf32"] = o.tf32;
  } else {
    const double growth = rss.growth_mb();
    row["peak_mem_mb"] = growth >= 0 ? json(growth) : json(nullptr);
    row["mem_measure"] = "rss_growth";
    row["allocator_peak_mb"] = tensors.growth_mb();  // tensors alone, without code, threads and caches
  }
  return row;
}

void print_row(const json& r, bool first) {
  if (first) {
    std::printf("%-16s %-5s %5s %10s %10s %10s %10s %9s\n", "model", "mode", "batch", "median ms", "p10 ms", "p90 ms",
                "images/s", "peak MB");
  }
  const json& mem = r["peak_mem_mb"];
  std::printf("%-16s %-5s %5lld %10.2f %10.2f %10.2f %10.1f %9s\n", r["model"].get<std::string>().c_str(),
              r["mode"].get<std::string>().c_str(), static_cast<long long>(r["batch"].get<int64_t>()),
              r["median_ms"].get<double>(), r["p10_ms"].get<double>(), r["p90_ms"].get<double>(),
              r["images_per_s"].get<double>(), mem.is_null() ? "-" : std::to_string(std::lround(mem.get<double>())).c_str());
}

void run_bench_models(BenchModelsOptions o) {
  check_model_names(o.models);
  const Device device = checked_device(o.device);
  if (o.cuda_graphs && !device.is_cuda()) {
    fail("bench models", "--cuda-graphs needs a CUDA device (--device cuda): the CPU has no graphs to capture");
  }
  if (o.batch > 0) o.train_batch = o.infer_batch = o.batch;
  if (o.threads > 0) set_num_threads(o.threads);
  backend_config().cudnn_benchmark = o.cudnn_benchmark;
  backend_config().allow_tf32 = o.tf32;
  LayerFusionGuard fusion(!o.no_fusion);
  std::vector<std::string> modes;
  if (o.mode != "train") modes.push_back("infer");
  if (o.mode != "infer") modes.push_back("train");
  if (!o.json) {
    std::printf("ember bench models: %s, threads %d, %lldx%lld, %s, %s%s, median of >= %d iterations after %d warm-up\n",
                device.str().c_str(), num_threads(), static_cast<long long>(o.size), static_cast<long long>(o.size),
                o.precision.c_str(), o.no_fusion ? "unfused" : "fused layers", o.cuda_graphs ? ", CUDA graphs" : "",
                o.iters, o.warmup);
  }
  bool first = true;
  for (const std::string& name : o.models) {
    for (const std::string& mode : modes) {
      json row = measure(name, mode, o, device);
      if (o.json) {
        std::printf("%s\n", row.dump().c_str());
      } else {
        print_row(row, first);
      }
      first = false;
      std::fflush(stdout);
    }
  }
}

}  // namespace

void add_bench_models_command(CLI::App& bench) {
  auto o = std::make_shared<BenchModelsOptions>();
  CLI::App* cmd = bench.add_subcommand("models", "Inference latency and training throughput of whole models");
  cmd->add_option("--model", o->models, "Models to run (registry names)")->delimiter(',')->capture_default_str();
  cmd->add_option("--mode", o->mode, "train, infer or both")
      ->check(CLI::IsMember({"train", "infer", "both"}))
      ->capture_default_str();
  cmd->add_option("--batch", o->batch, "Batch size of both modes (overrides the two below)")->check(CLI::PositiveNumber);
  cmd->add_option("--train-batch", o->train_batch, "Batch size of a training step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--infer-batch", o->infer_batch, "Batch size of an inference")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--size", o->size, "Input height and width")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--device", o->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (default: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--warmup", o->warmup, "Untimed iterations first")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--iters", o->iters, "Timed iterations, at least")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--min-time", o->min_time, "Keep timing until this many seconds have passed")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--precision", o->precision,
                  "float32, or float16 / bfloat16 mixed precision (autocast; float16 training with loss scaling)")
      ->check(CLI::IsMember({"float32", "float16", "bfloat16"}))
      ->capture_default_str();
  cmd->add_flag("--channels-last", o->channels_last, "channels-last (NHWC) weights and input");
  cmd->add_flag("--cudnn-benchmark", o->cudnn_benchmark, "CUDA: time cuDNN's convolution algorithms, keep the fastest");
  cmd->add_flag("--tf32", o->tf32, "CUDA: let float32 matrix products and convolutions use TF32");
  cmd->add_flag("--cuda-graphs", o->cuda_graphs,
                "CUDA: capture each step as a CUDA graph after one eager warm-up and time its replays");
  cmd->add_flag("--no-fusion", o->no_fusion,
                "Run batch norm + activation and residual add + ReLU as separate ops (to measure the fusion)");
  cmd->add_flag("--json", o->json, "One JSON object per line instead of a table");
  cmd->callback([o] { run_bench_models(*o); });
}

}  // namespace ember::cli
