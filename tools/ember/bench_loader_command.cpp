// `ember bench loader`: images per second that the DataLoader delivers with
// N worker threads: read from disk, JPEG decode, augmentation (by default
// torchvision's ImageNet training transform: RandomResizedCrop 224,
// horizontal flip, normalize, to tensor), collation into pinned host memory
// and, with --device cuda, the copy to the GPU. This is the rate that must
// keep a training GPU fed (issue: 3,000 ResNet-50-sized images per second
// on 16 cores); tools/bench/torch_loader.py does the same with PyTorch's
// DataLoader and torchvision, and tools/bench/compare_loader.py runs both.
// The folder's JPEGs are repeated to --epoch-images per epoch, so a few
// dozen files stand for a dataset (read from the page cache, as a warm
// training epoch mostly is).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "data/datasets/file_datasets.h"
#include "data/loader.h"
#include "data/pipeline_config.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "tools/ember/commands.h"

namespace ember::cli {
namespace {

struct BenchLoaderOptions {
  std::string images, pipeline, device = "cpu";
  int64_t batch = 256, epoch_images = 8192;
  int workers = 0;  // 0: one per core
  double min_time = 5.0;
  bool json = false;
};

// torchvision's ImageNet training transform.
const char* kImageNetTrain = R"([
  {"op": "RandomResizedCrop", "height": 224, "width": 224},
  {"op": "HorizontalFlip"},
  {"op": "Normalize", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
  {"op": "ToTensor"}])";

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int run_bench_loader(const BenchLoaderOptions& o) {
  const Device device = Device::parse(o.device);
  const int workers = o.workers > 0 ? o.workers : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto files = std::make_shared<FixedLabelFolder>(o.images, 0);
  const int64_t n_files = files->size();
  EMBER_CHECK(n_files > 0, "bench loader", o.images, ": no images found");
  std::vector<int64_t> indices(static_cast<size_t>(std::max(o.epoch_images, n_files)));
  for (size_t i = 0; i < indices.size(); ++i) indices[i] = static_cast<int64_t>(i) % n_files;
  auto dataset = std::make_shared<Subset>(files, indices);
  Pipeline pipeline = o.pipeline.empty() ? parse_pipeline(nlohmann::json::parse(kImageNetTrain), "bench loader")
                                         : load_pipeline(o.pipeline, "train");
  LoaderOptions lo;
  lo.batch_size = o.batch;
  lo.drop_last = true;
  lo.num_workers = workers;
  lo.device = device;
  lo.pin_memory = device.is_cuda();
  DataLoader loader(dataset, pipeline, lo);

  // Two warm-up batches (threads start, caches fill), then every batch until
  // min_time has passed, epochs restarting as needed.
  int64_t epoch = 0, warm = 0, images = 0;
  loader.start_epoch(epoch);
  auto next = [&]() {
    std::optional<Batch> b = loader.next();
    if (!b) {
      loader.start_epoch(++epoch);
      b = loader.next();
    }
    return b;
  };
  while (warm < 2 && next()) ++warm;
  const auto t0 = std::chrono::steady_clock::now();
  while (seconds_since(t0) < o.min_time) {
    std::optional<Batch> b = next();
    EMBER_CHECK(b.has_value(), "bench loader", "the loader gave no batch");
    images += b->images.size(0);
  }
  if (device.is_cuda()) backend(device).synchronize(device);
  const double elapsed = seconds_since(t0), rate = static_cast<double>(images) / elapsed;
  if (o.json) {
    nlohmann::ordered_json row = {{"runner", "ember"},     {"images_per_s", rate},        {"workers", workers},
                                  {"batch", o.batch},      {"device", o.device},          {"files", n_files},
                                  {"images", images},      {"seconds", elapsed},
                                  {"pipeline", o.pipeline.empty() ? "imagenet_train" : o.pipeline}};
    std::printf("%s\n", row.dump().c_str());
  } else {
    std::printf("ember bench loader: %.0f images/s (%.0f per worker), %d workers, batch %lld, %s, %lld files from %s\n",
                rate, rate / workers, workers, static_cast<long long>(o.batch), o.device.c_str(),
                static_cast<long long>(n_files), o.images.c_str());
  }
  return 0;
}

}  // namespace

void add_bench_loader_command(CLI::App& bench) {
  auto o = std::make_shared<BenchLoaderOptions>();
  CLI::App* cmd = bench.add_subcommand("loader", "Images per second the multi-threaded loader delivers");
  cmd->add_option("--images", o->images, "Folder of images (searched recursively)")->required();
  cmd->add_option("--pipeline", o->pipeline,
                  "Augmentation config (its train pipeline); default: torchvision's ImageNet training transform");
  cmd->add_option("--batch", o->batch, "Batch size")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--workers", o->workers, "Worker threads (default: one per core)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--epoch-images", o->epoch_images, "Images per epoch (the folder's files repeated)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--device", o->device, "Where batches are delivered: cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--min-time", o->min_time, "Seconds to time after two warm-up batches")->capture_default_str();
  cmd->add_flag("--json", o->json, "One JSON line instead of the sentence");
  cmd->callback([o] { run_bench_loader(*o); });
}

}  // namespace ember::cli
