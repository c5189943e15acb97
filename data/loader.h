// DataLoader: batches of augmented examples from worker threads.
//
//   DataLoader loader(dataset, pipeline, {.batch_size = 32, .shuffle = true, .seed = 1});
//   for (int epoch = 0; epoch < n; ++epoch) {
//     loader.start_epoch(epoch);
//     while (auto batch = loader.next()) { model(batch->images); ... }
//   }
//
// Each epoch draws a new order from (seed, epoch). Workers each build whole
// batches (read, decode, augment, collate into pinned host memory), up to
// `prefetch_factor` batches per worker ahead of the consumer (PyTorch's
// DataLoader rule, so that every worker has work); batches come out in
// order. Each
// example's augmentation Rng is seeded from (seed, epoch, position), so an
// epoch's batches are the same for any number of workers. With a CUDA
// `device`, the next batch is copied there while the caller works on the
// current one. An error in a worker (a corrupt image, a pipeline whose
// outputs differ in shape) is rethrown by next() as ember::Error naming the
// file; with on_bad_image = Skip, unreadable images are left out of their
// batch with a warning on stderr instead. The destructor stops and joins
// the workers.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/augment/transform.h"
#include "data/dataset.h"
#include "engine/device.h"

namespace ember {

enum class BadImagePolicy { Error, Skip };

struct LoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = true;
  bool drop_last = false;
  uint64_t seed = 0;
  int num_workers = 2;        // 0: build batches on the calling thread
  int prefetch_factor = 2;    // batches in flight ahead of the consumer, per worker (at least 1 worker's worth)
  bool pin_memory = true;     // collate into page-locked memory when `device` is a GPU
  Device device = kCPU;       // where next() delivers the batch
  BadImagePolicy on_bad_image = BadImagePolicy::Error;
};

struct Batch {
  Tensor images;                  // [B, ...] as the pipeline outputs, stacked
  Tensor labels;                  // int64 [B]
  std::vector<int64_t> indices;   // dataset indices of the rows
  Batch to(Device device) const;  // images and labels on `device`
};

class DataLoader {
 public:
  DataLoader(DatasetPtr dataset, Pipeline pipeline, LoaderOptions options = {});
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Batches per epoch (before any skipped images).
  int64_t num_batches() const;
  // Starts (or restarts) an epoch; pending work of an earlier epoch is dropped.
  void start_epoch(int64_t epoch);
  // The next batch of the current epoch, or nullopt at its end.
  std::optional<Batch> next();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Stacks same-shaped tensors into [n, ...] (pinned when `pin`).
Tensor collate(const std::vector<Tensor>& samples, bool pin, const std::vector<std::string>& sources = {});

}  // namespace ember
