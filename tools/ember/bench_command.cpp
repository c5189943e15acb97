// `ember bench data`: images per second, on one thread, for JPEG decoding,
// each augmentation op of the source documents' training pipeline, and the
// whole pipeline (decode + augment), on real JPEGs held in memory. The same
// ops, images and thread count are timed in Albumentations and
// torchvision/PIL by tools/bench/data_pipeline.py; tools/bench/compare_data.py
// runs all three and prints (or writes into docs/benchmarks.md) the table.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/decode.h"
#include "data/pipeline_config.h"
#include "engine/error.h"
#include "engine/threads.h"
#include "tools/ember/commands.h"

namespace ember::cli {
namespace {

using json = nlohmann::json;

struct BenchDataOptions {
  std::string images, json_out;
  std::vector<std::string> only;  // row names to run (substrings); empty: all
  int limit = 64;
  double min_time = 1.0;
  bool cpu_time = false;
};

// The source documents' Albumentations training pipeline (document 000).
const char* kPipeline = R"([
  {"op": "Resize", "height": 256, "width": 256},
  {"op": "HorizontalFlip", "p": 0.85},
  {"op": "RandomRotate90", "p": 0.85},
  {"op": "VerticalFlip", "p": 0.85},
  {"op": "ColorJitter", "brightness": 0.2, "contrast": 0.2, "saturation": 0.2, "hue": 0.2},
  {"op": "RandomCrop", "height": 224, "width": 224},
  {"op": "OneOf", "ops": [{"op": "MotionBlur", "p": 0.85}, {"op": "OpticalDistortion", "p": 0.85},
                          {"op": "GaussNoise", "p": 0.85}]},
  {"op": "Normalize", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
  {"op": "ToTensorV2"}])";

// Per-op rows: name and the op (p = 1), run on the decoded images.
const std::vector<std::pair<std::string, std::string>> kOps = {
    {"Resize 256", R"({"op": "Resize", "height": 256, "width": 256})"},
    {"Resize 256 (no antialias)", R"({"op": "Resize", "height": 256, "width": 256, "antialias": false})"},
    {"HorizontalFlip", R"({"op": "HorizontalFlip", "p": 1})"},
    {"VerticalFlip", R"({"op": "VerticalFlip", "p": 1})"},
    {"RandomRotate90", R"({"op": "RandomRotate90", "p": 1})"},
    {"RandomCrop 224", R"({"op": "RandomCrop", "height": 224, "width": 224})"},
    {"RandomResizedCrop 224", R"({"op": "RandomResizedCrop", "height": 224, "width": 224})"},
    {"RandomResizedCrop 224 (no antialias)", R"({"op": "RandomResizedCrop", "height": 224, "width": 224, "antialias": false})"},
    {"ColorJitter", R"({"op": "ColorJitter", "p": 1})"},
    {"GaussianBlur", R"({"op": "GaussianBlur", "p": 1})"},
    {"MotionBlur", R"({"op": "MotionBlur", "p": 1})"},
    {"OpticalDistortion", R"({"op": "OpticalDistortion", "p": 1})"},
    {"GaussNoise", R"({"op": "GaussNoise", "p": 1})"},
    {"Rotate", R"({"op": "Rotate", "limit": 45, "p": 1})"},
    {"Normalize", R"({"op": "Normalize"})"},
};

// Seconds on a clock: wall time, or this thread's CPU time (steadier on a
// machine shared with other jobs, where wall time counts their turns too).
double now_s(bool cpu_time) {
  if (cpu_time) {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Runs fn(i) over the images until min_time has passed; images per second.
template <class Fn>
double rate(size_t n, double min_time, bool cpu_time, Fn&& fn) {
  fn(0);  // warm-up
  size_t done = 0;
  const double start = now_s(cpu_time);
  double elapsed = 0;
  while (elapsed < min_time) {
    for (size_t i = 0; i < n; ++i) fn(i);
    done += n;
    elapsed = now_s(cpu_time) - start;
  }
  return static_cast<double>(done) / elapsed;
}

int run_bench_data(const BenchDataOptions& o) {
  namespace fs = std::filesystem;
  set_num_threads(1);
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(o.images, ec))
    if (e.path().extension() == ".jpg" || e.path().extension() == ".jpeg") files.push_back(e.path().string());
  if (ec) fail("bench data", o.images, ": cannot list (", ec.message(), ")");
  std::sort(files.begin(), files.end());
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<Image> images;
  double pixels = 0;
  for (const std::string& f : files) {
    if (static_cast<int>(images.size()) >= o.limit) break;
    std::vector<uint8_t> b = read_file_bytes(f);
    Image img = decode_image(b.data(), b.size(), f);
    if (img.height < 256 || img.width < 256) continue;  // RandomCrop 224 needs room
    pixels += static_cast<double>(img.height) * img.width;
    bytes.push_back(std::move(b));
    images.push_back(std::move(img));
  }
  if (images.empty()) fail("bench data", o.images, ": no JPEG of at least 256x256 found");
  std::printf("ember bench data: %zu JPEGs from %s (mean %.0f pixels), 1 thread\n", images.size(), o.images.c_str(),
              pixels / static_cast<double>(images.size()));
  json results = json::array();
  auto report = [&](const std::string& name, double r) {
    std::printf("  %-38s %9.0f images/s\n", name.c_str(), r);
    std::fflush(stdout);
    results.push_back({{"op", name}, {"images_per_s", r}});
  };
  const size_t n = images.size();
  auto wanted = [&](const std::string& name) {
    return o.only.empty() ||
           std::any_of(o.only.begin(), o.only.end(), [&](const std::string& w) { return name.find(w) != std::string::npos; });
  };
  if (wanted("Decode (JPEG)")) {
    report("Decode (JPEG)",
           rate(n, o.min_time, o.cpu_time, [&](size_t i) { decode_image(bytes[i].data(), bytes[i].size(), "bench"); }));
  }
  uint64_t k = 0;
  for (const auto& [name, cfg] : kOps) {
    if (!wanted(name)) continue;
    Pipeline p = parse_pipeline(json::array({json::parse(cfg)}), "bench");
    report(name, rate(n, o.min_time, o.cpu_time, [&](size_t i) {
      Rng rng(1, k++);
      Sample s = p.run(images[i], rng);  // reads images[i] in place, as Albumentations does
    }));
  }
  Pipeline full = parse_pipeline(json::parse(kPipeline), "bench");
  if (wanted("Augment pipeline (no decode)")) {
    report("Augment pipeline (no decode)", rate(n, o.min_time, o.cpu_time, [&](size_t i) {
      Rng rng(2, k++);
      full(images[i], rng);
    }));
  }
  if (wanted("Decode + augment pipeline")) {
    report("Decode + augment pipeline", rate(n, o.min_time, o.cpu_time, [&](size_t i) {
      Rng rng(3, k++);
      full(decode_image(bytes[i].data(), bytes[i].size(), "bench"), rng);
    }));
  }
  if (!o.json_out.empty()) {
    std::ofstream f(o.json_out);
    f << json{{"library", "ember"}, {"images", n}, {"results", results}}.dump(2) << "\n";
    if (!f) fail("bench data", o.json_out, ": cannot write");
  }
  return 0;
}

std::string default_images() {
  const char* d = std::getenv("EMBER_SHARED_DATA");
  return std::string(d ? d : "../shared/data") + "/cats_and_dogs_filtered/train/cats";
}

}  // namespace

void add_bench_command(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks (data: the input pipeline; models: whole models; loader: the multi-threaded loader)");
  bench->require_subcommand(1);
  auto o = std::make_shared<BenchDataOptions>();
  o->images = default_images();
  CLI::App* data = bench->add_subcommand("data", "Decode and augmentation throughput on one thread, per op and whole");
  data->add_option("--images", o->images, "Folder of JPEGs")->capture_default_str();
  data->add_option("--limit", o->limit, "Images to use (at least 256x256)")->capture_default_str()->check(CLI::PositiveNumber);
  data->add_option("--min-time", o->min_time, "Seconds per measurement")->capture_default_str();
  data->add_option("--json", o->json_out, "Also write the results as JSON");
  data->add_flag("--cpu-time", o->cpu_time, "Time with the thread's CPU clock instead of the wall clock");
  data->add_option("--only", o->only, "Run only the rows whose name contains one of these (e.g. --only Flip Crop)");
  data->callback([o] { run_bench_data(*o); });
  add_bench_models_command(*bench);
  add_bench_loader_command(*bench);
}

}  // namespace ember::cli
