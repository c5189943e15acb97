// Workers take batch numbers from a shared counter, limited to
// prefetch_factor x workers ahead of the consumer, and put finished batches (or
// their error) into a map keyed by batch number; next() waits for the batch
// it needs. An epoch counter ("generation") lets start_epoch abandon work
// in flight: a worker drops a result whose generation is stale.
#include "data/loader.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>

#include "engine/error.h"

namespace ember {

struct DataLoader::State {
  DatasetPtr dataset;
  Pipeline pipeline;
  LoaderOptions o;

  std::mutex mu;
  std::condition_variable work_cv, done_cv;
  bool stop = false;
  uint64_t generation = 0;
  int64_t epoch = -1;
  std::vector<int64_t> order;
  int64_t batches = 0, next_to_take = 0, next_to_give = 0;
  struct Result {
    std::optional<Batch> batch;  // empty when every image was skipped
    std::string error;
  };
  std::map<int64_t, Result> ready;
  std::set<std::string> warned;
  std::vector<std::thread> workers;
  std::future<Batch> in_transfer;  // the next batch on its way to the device
  bool transfer_pending = false;

  Result build(int64_t b, uint64_t gen_epoch, const std::vector<int64_t>& ord);
  void worker_loop();
  // Batches that may be built ahead of the consumer. A fixed count (it was
  // 4) left all but 4 of 16 workers idle.
  int64_t in_flight() const { return static_cast<int64_t>(o.prefetch_factor) * std::max(o.num_workers, 1); }
  std::optional<Batch> next_host();
};

namespace {

uint64_t sample_stream(int64_t epoch, int64_t position) {
  return (static_cast<uint64_t>(epoch) << 40) ^ static_cast<uint64_t>(position);
}

}  // namespace

Tensor collate(const std::vector<Tensor>& samples, bool pin, const std::vector<std::string>& sources) {
  EMBER_CHECK(!samples.empty(), "collate", "no samples");
  const Tensor& first = samples[0];
  Shape shape = first.shape();
  shape.insert(shape.begin(), static_cast<int64_t>(samples.size()));
  // Straight into page-locked memory when pinning: pinning a finished batch
  // would copy it once more.
  Tensor out = pin ? empty_pinned(shape, first.dtype()) : empty(shape, first.dtype());
  const size_t bytes = static_cast<size_t>(first.numel()) * first.element_size();
  char* dst = static_cast<char*>(out.data_ptr());
  for (size_t i = 0; i < samples.size(); ++i) {
    const Tensor& t = samples[i];
    if (t.shape() != first.shape() || t.dtype() != first.dtype()) {
      fail("collate", sources.size() > i ? sources[i] : "sample " + std::to_string(i), " gives a ",
           dtype_name(t.dtype()), " ", t.shape(), " tensor but ", sources.empty() ? "sample 0" : sources[0], " gives ",
           dtype_name(first.dtype()), " ", first.shape(),
           "; add a Resize or crop to the pipeline so every example has one size");
    }
    Tensor c = t.contiguous();
    std::memcpy(dst + i * bytes, c.data_ptr(), bytes);
  }
  return out;
}

Batch Batch::to(Device device) const {
  if (device == images.device()) return *this;
  return Batch{images.to(device), labels.to(device), indices};
}

DataLoader::State::Result DataLoader::State::build(int64_t b, uint64_t ep, const std::vector<int64_t>& ord) {
  Result r;
  const int64_t begin = b * o.batch_size, end = std::min<int64_t>(begin + o.batch_size, static_cast<int64_t>(ord.size()));
  std::vector<Tensor> samples;
  std::vector<std::string> sources;
  std::vector<int64_t> labels, indices;
  try {
    for (int64_t pos = begin; pos < end; ++pos) {
      const int64_t idx = ord[static_cast<size_t>(pos)];
      Image img;
      try {
        img = dataset->image(idx);
      } catch (const Error& e) {
        if (o.on_bad_image == BadImagePolicy::Error) throw;
        std::lock_guard<std::mutex> lock(mu);
        if (warned.insert(dataset->source(idx)).second)
          std::fprintf(stderr, "ember: warning: skipping %s\n", e.what());
        continue;
      }
      Rng rng(o.seed, sample_stream(static_cast<int64_t>(ep), pos));
      try {
        samples.push_back(pipeline(std::move(img), rng));
      } catch (const Error& e) {
        fail("loader", dataset->source(idx), ": ", e.what());
      }
      sources.push_back(dataset->source(idx));
      labels.push_back(dataset->label(idx));
      indices.push_back(idx);
    }
    if (!samples.empty()) {
      Batch batch;
      // Pinned only for a GPU consumer: page-locked memory helps nothing else
      // and would start a CUDA context on a machine that has a GPU.
      const bool pin = o.pin_memory && o.device.is_cuda();
      batch.images = collate(samples, pin, sources);
      batch.labels = from_vector(labels, {static_cast<int64_t>(labels.size())});
      if (pin) batch.labels = pin_memory(batch.labels);
      batch.indices = std::move(indices);
      r.batch = std::move(batch);
    }
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  return r;
}

void DataLoader::State::worker_loop() {
  std::unique_lock<std::mutex> lock(mu);
  while (true) {
    work_cv.wait(lock, [&] {
      return stop || (next_to_take < batches && next_to_take < next_to_give + in_flight());
    });
    if (stop) return;
    const int64_t b = next_to_take++;
    const uint64_t gen = generation;
    const int64_t ep = epoch;
    std::vector<int64_t> ord = order;  // a copy: start_epoch may replace it
    lock.unlock();
    Result r = build(b, static_cast<uint64_t>(ep), ord);
    lock.lock();
    if (gen == generation) {
      ready[b] = std::move(r);
      done_cv.notify_all();
    }
  }
}

DataLoader::DataLoader(DatasetPtr dataset, Pipeline pipeline, LoaderOptions options) : s_(std::make_unique<State>()) {
  EMBER_CHECK(dataset != nullptr, "DataLoader", "the dataset is null");
  EMBER_CHECK(options.batch_size > 0, "DataLoader", "batch_size must be > 0, got ", options.batch_size);
  EMBER_CHECK(dataset->size() > 0, "DataLoader", "the dataset is empty");
  EMBER_CHECK(options.num_workers >= 0 && options.prefetch_factor > 0, "DataLoader",
              "num_workers must be >= 0 and prefetch_factor > 0");
  s_->dataset = std::move(dataset);
  s_->pipeline = std::move(pipeline);
  s_->o = options;
  EMBER_CHECK(num_batches() > 0, "DataLoader", "a dataset of ", s_->dataset->size(), " examples gives no batch of ",
              options.batch_size, " with drop_last");
  for (int i = 0; i < options.num_workers; ++i) s_->workers.emplace_back([this] { s_->worker_loop(); });
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(s_->mu);
    s_->stop = true;
  }
  s_->work_cv.notify_all();
  for (std::thread& t : s_->workers) t.join();
  if (s_->transfer_pending) s_->in_transfer.wait();
}

int64_t DataLoader::num_batches() const {
  const int64_t n = s_->dataset->size(), b = s_->o.batch_size;
  return s_->o.drop_last ? n / b : (n + b - 1) / b;
}

void DataLoader::start_epoch(int64_t epoch) {
  if (s_->transfer_pending) {
    s_->in_transfer.wait();
    s_->transfer_pending = false;
  }
  std::vector<int64_t> order(static_cast<size_t>(s_->dataset->size()));
  std::iota(order.begin(), order.end(), 0);
  if (s_->o.shuffle) {
    Rng rng(s_->o.seed, sample_stream(epoch, -1));
    for (int64_t i = static_cast<int64_t>(order.size()) - 1; i > 0; --i)
      std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(rng.randint(0, i))]);
  }
  if (s_->o.drop_last) order.resize(static_cast<size_t>(num_batches() * s_->o.batch_size));
  {
    std::lock_guard<std::mutex> lock(s_->mu);
    ++s_->generation;
    s_->epoch = epoch;
    s_->order = std::move(order);
    s_->batches = num_batches();
    s_->next_to_take = s_->next_to_give = 0;
    s_->ready.clear();
  }
  s_->work_cv.notify_all();
}

std::optional<Batch> DataLoader::State::next_host() {
  while (true) {
    Result r;
    {
      std::unique_lock<std::mutex> lock(mu);
      EMBER_CHECK(epoch >= 0, "DataLoader", "call start_epoch() before next()");
      if (next_to_give >= batches) return std::nullopt;
      const int64_t b = next_to_give;
      if (workers.empty()) {
        ++next_to_take;
        std::vector<int64_t> ord = order;
        lock.unlock();
        r = build(b, static_cast<uint64_t>(epoch), ord);
        lock.lock();
      } else {
        done_cv.wait(lock, [&] { return ready.count(b) > 0; });
        r = std::move(ready[b]);
        ready.erase(b);
      }
      ++next_to_give;
    }
    work_cv.notify_all();
    if (!r.error.empty()) throw Error(r.error);
    if (r.batch) return r.batch;  // else: every image of the batch was skipped
  }
}

std::optional<Batch> DataLoader::next() {
  if (s_->o.device.is_cpu()) return s_->next_host();
  // Device: hand over the batch already in transfer, and start the next one.
  std::optional<Batch> current;
  if (s_->transfer_pending) {
    s_->transfer_pending = false;
    current = s_->in_transfer.get();
  } else {
    std::optional<Batch> b = s_->next_host();
    if (!b) return std::nullopt;
    current = b->to(s_->o.device);
  }
  if (std::optional<Batch> upcoming = s_->next_host()) {
    const Device d = s_->o.device;
    s_->in_transfer = std::async(std::launch::async, [b = std::move(*upcoming), d] { return b.to(d); });
    s_->transfer_pending = true;
  }
  return current;
}

}  // namespace ember
