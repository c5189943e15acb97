// The loader: batch shapes and labels, a new order each epoch from the seed,
// the same batches for any number of workers, drop_last, errors from
// workers surfacing with the file's name, the skip policy, and shutdown
// in the middle of an epoch.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "data/datasets/file_datasets.h"
#include "data/decode.h"
#include "data/loader.h"
#include "data/pipeline_config.h"
#include "tests/data/image_oracle.h"
#include "tests/support/oracle.h"

namespace ember::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A dataset of synthetic images of varying sizes (no files needed).
class Synthetic : public Dataset {
 public:
  explicit Synthetic(int64_t n, int64_t bad = -1) : n_(n), bad_(bad) {}
  int64_t size() const override { return n_; }
  int64_t label(int64_t i) const override { return i % 3; }
  Image image(int64_t i) const override {
    if (i == bad_) fail("decode_image", source(i), ": corrupt JPEG (test)");
    Image img(40 + static_cast<int>(i % 7), 50 + static_cast<int>(i % 5), 3);
    for (size_t k = 0; k < img.pixels.size(); ++k) img.pixels[k] = static_cast<uint8_t>(k * 31 + static_cast<size_t>(i));
    return img;
  }
  std::string source(int64_t i) const override { return "synthetic/" + std::to_string(i) + ".jpg"; }

 private:
  int64_t n_, bad_;
};

Pipeline small_pipeline() {
  return parse_pipeline(json::parse(R"([{"op": "Resize", "height": 32, "width": 32}, {"op": "HorizontalFlip"},
      {"op": "ColorJitter"}, {"op": "RandomCrop", "height": 28, "width": 28}, {"op": "Normalize"}, {"op": "ToTensor"}])"));
}

std::vector<Batch> epoch(DataLoader& l, int64_t e) {
  l.start_epoch(e);
  std::vector<Batch> out;
  while (auto b = l.next()) out.push_back(*b);
  return out;
}

TEST(Loader, BatchesShuffleAndDeterminism) {
  auto ds = std::make_shared<Synthetic>(45);
  LoaderOptions o;
  o.batch_size = 8;
  o.seed = 5;
  o.num_workers = 3;
  DataLoader loader(ds, small_pipeline(), o);
  EXPECT_EQ(loader.num_batches(), 6);
  std::vector<Batch> e0 = epoch(loader, 0);
  ASSERT_EQ(e0.size(), 6u);
  EXPECT_EQ(e0[0].images.shape(), (Shape{8, 3, 28, 28}));
  EXPECT_EQ(e0.back().images.shape(), (Shape{5, 3, 28, 28}));
  std::set<int64_t> seen;
  for (const Batch& b : e0)
    for (size_t i = 0; i < b.indices.size(); ++i) {
      seen.insert(b.indices[i]);
      EXPECT_EQ(b.labels.to_vector<int64_t>()[i], b.indices[i] % 3);
    }
  EXPECT_EQ(seen.size(), 45u);  // every example once
  std::vector<Batch> e1 = epoch(loader, 1);
  EXPECT_NE(e0[0].indices, e1[0].indices);  // a new shuffle each epoch
  // The same epoch again, and with other worker counts: identical batches.
  for (int workers : {0, 1, 4}) {
    LoaderOptions o2 = o;
    o2.num_workers = workers;
    DataLoader other(ds, small_pipeline(), o2);
    std::vector<Batch> again = epoch(other, 1);
    ASSERT_EQ(again.size(), e1.size());
    for (size_t b = 0; b < again.size(); ++b) {
      EXPECT_EQ(again[b].indices, e1[b].indices);
      EXPECT_EQ(relative_error(again[b].images, e1[b].images), 0.0) << "workers " << workers << " batch " << b;
    }
  }
}

// Images that take a while to read, counting how many are read at once.
class SlowReads : public Dataset {
 public:
  int64_t size() const override { return 96; }
  int64_t label(int64_t) const override { return 0; }
  Image image(int64_t) const override {
    const int now = ++active_;
    int seen = most_;
    while (now > seen && !most_.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    --active_;
    return Image(8, 8, 3);
  }
  std::string source(int64_t i) const override { return "slow/" + std::to_string(i); }
  int most_at_once() const { return most_; }

 private:
  mutable std::atomic<int> active_{0}, most_{0};
};

// Every worker builds a batch at once while the consumer waits: with eight
// workers, eight reads overlap (a fixed limit of four batches in flight
// once left half of them idle).
TEST(Loader, EveryWorkerHasABatchInFlight) {
  auto ds = std::make_shared<SlowReads>();
  LoaderOptions o;
  o.batch_size = 2;
  o.num_workers = 8;
  DataLoader loader(ds, parse_pipeline(json::parse(R"([{"op": "ToTensor"}])")), o);
  loader.start_epoch(0);
  int64_t batches = 0;
  while (auto b = loader.next()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the consumer is the slower side at times
    ++batches;
  }
  EXPECT_EQ(batches, 48);
  EXPECT_EQ(ds->most_at_once(), 8) << "reads in flight at once with 8 workers";
  o.prefetch_factor = 0;
  expect_error([&] { DataLoader bad(ds, parse_pipeline(json::parse(R"([{"op": "ToTensor"}])")), o); },
               {"prefetch_factor > 0"});
}

TEST(Loader, DropLastAndNoShuffle) {
  auto ds = std::make_shared<Synthetic>(45);
  LoaderOptions o;
  o.batch_size = 8;
  o.drop_last = true;
  o.shuffle = false;
  DataLoader loader(ds, small_pipeline(), o);
  std::vector<Batch> e = epoch(loader, 0);
  ASSERT_EQ(e.size(), 5u);
  EXPECT_EQ(e[0].indices, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  for (const Batch& b : e) EXPECT_EQ(b.images.size(0), 8);
  LoaderOptions big = o;
  big.batch_size = 64;
  expect_error([&] { DataLoader l(ds, small_pipeline(), big); }, {"45", "drop_last"});
  expect_error([&] { DataLoader l(std::make_shared<Synthetic>(0), small_pipeline(), o); }, {"empty"});
}

TEST(Loader, WorkerErrorNamesTheFileAndSkipPolicy) {
  auto ds = std::make_shared<Synthetic>(30, 17);
  LoaderOptions o;
  o.batch_size = 4;
  o.num_workers = 2;
  o.shuffle = false;
  DataLoader loader(ds, small_pipeline(), o);
  loader.start_epoch(0);
  expect_error([&] { while (loader.next()) {} }, {"synthetic/17.jpg", "corrupt"});
  // Skip: the bad example is left out of its batch.
  o.on_bad_image = BadImagePolicy::Skip;
  DataLoader skipping(ds, small_pipeline(), o);
  std::vector<Batch> e = epoch(skipping, 0);
  int64_t total = 0;
  for (const Batch& b : e) total += b.images.size(0);
  EXPECT_EQ(total, 29);
  EXPECT_EQ(e[4].images.size(0), 3);
  // A pipeline whose outputs differ in size: the error says which file.
  DataLoader ragged(ds, parse_pipeline(json::parse(R"([{"op": "ToTensor"}])")), o);
  ragged.start_epoch(0);
  expect_error([&] { ragged.next(); }, {"synthetic/1.jpg", "Resize"});
}

TEST(Loader, RealFolderWithBadFilesAndEarlyShutdown) {
  EMBER_NEED_SHARED_DATA("hymenoptera_data");
  // A class folder holding a corrupt JPEG next to real ones.
  std::string root = (fs::temp_directory_path() / ("ember_loader_" + std::to_string(getpid()))).string();
  const std::string src = shared_data() + "/hymenoptera_data/train/ants";
  int n = 0;
  for (const auto& e : fs::directory_iterator(src)) {
    if (e.path().extension() != ".jpg" || n >= 12) continue;
    fs::create_directories(root + "/ants");
    fs::copy_file(e.path(), root + "/ants/" + e.path().filename().string());
    ++n;
  }
  std::vector<uint8_t> bytes = read_file_bytes(shared_data() + "/photos/parrot.jpg");
  std::ofstream(root + "/ants/zz_truncated.jpg", std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), 4000);
  auto ds = std::make_shared<ImageFolder>(root);
  LoaderOptions o;
  o.batch_size = 4;
  o.shuffle = false;
  DataLoader loader(ds, parse_pipeline(json::parse(R"([{"op": "Resize", "height": 64, "width": 64}, {"op": "ToTensor"}])")), o);
  loader.start_epoch(0);
  expect_error([&] { while (loader.next()) {} }, {"zz_truncated.jpg", "JPEG"});
  // Restart and abandon an epoch midway, then destroy: must not hang.
  {
    LoaderOptions o2 = o;
    o2.num_workers = 3;
    o2.prefetch_factor = 1;
    o2.on_bad_image = BadImagePolicy::Skip;
    DataLoader l2(ds, parse_pipeline(json::parse(R"([{"op": "Resize", "height": 64, "width": 64}])")), o2);
    l2.start_epoch(0);
    ASSERT_TRUE(l2.next().has_value());
    l2.start_epoch(1);
    ASSERT_TRUE(l2.next().has_value());
  }
  fs::remove_all(root);
}

}  // namespace
}  // namespace ember::test
