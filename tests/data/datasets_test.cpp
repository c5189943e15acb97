// Datasets: ImageFolder against torchvision's ImageFolder (same classes,
// files and order), fixed-label folders + concatenation + seeded split (the
// source documents' summer/winter workflow), CSV lists, IDX and CIFAR
// binaries, and the errors for empty or malformed input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <zlib.h>

#include "data/datasets/file_datasets.h"
#include "data/datasets/memory_datasets.h"
#include "tests/data/image_oracle.h"
#include "tests/support/oracle.h"

namespace ember::test {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  std::string path;
  TempDir() {
    static int n = 0;
    path = (fs::temp_directory_path() / ("ember_ds_" + std::to_string(getpid()) + "_" + std::to_string(n++))).string();
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

void copy_file(const std::string& from, const std::string& to) {
  fs::create_directories(fs::path(to).parent_path());
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

TEST(ImageFolder, MatchesTorchvision) {
  EMBER_NEED_SHARED_DATA("hymenoptera_data");
  EMBER_NEED_ORACLE(tv());
  const std::string root = shared_data() + "/hymenoptera_data/train";
  auto ds = std::make_shared<ImageFolder>(root);
  json ref;
  tv().call("t.image_folder", {{"root", root}}, {}, &ref);
  EXPECT_EQ(ds->class_names(), ref["classes"].get<std::vector<std::string>>());
  ASSERT_EQ(ds->size(), static_cast<int64_t>(ref["paths"].size()));
  for (int64_t i = 0; i < ds->size(); ++i) {
    EXPECT_EQ(fs::path(ds->source(i)).lexically_normal(), fs::path(ref["paths"][static_cast<size_t>(i)].get<std::string>()).lexically_normal());
    EXPECT_EQ(ds->label(i), ref["labels"][static_cast<size_t>(i)].get<int64_t>());
  }
  EXPECT_EQ(class_counts(*ds), (std::vector<int64_t>{123, 121}));  // 124 files in ants/, one a GIF
  // The GIF placeholder is not an image extension: skipped, as torchvision does.
  ASSERT_EQ(ds->skipped_files().size(), 1u);
  EXPECT_NE(ds->skipped_files()[0].find("imageNotFound.gif"), std::string::npos);
  bool has_jpeg = false;
  for (int64_t i = 0; i < ds->size(); ++i) has_jpeg |= ds->source(i).ends_with("formica.jpeg");
  EXPECT_TRUE(has_jpeg);
  Image img = ds->image(0);
  EXPECT_EQ(img.channels, 3);
}

TEST(ImageFolder, ExtensionsAnyCaseAndErrors) {
  EMBER_NEED_SHARED_DATA();
  const std::string photo = shared_data() + "/photos/parrot.jpg";
  TempDir t;
  copy_file(photo, t.path + "/b/x.JPG");
  copy_file(photo, t.path + "/a/y.Jpeg");
  copy_file(photo, t.path + "/a/sub/z.jpg");
  std::ofstream(t.path + "/a/notes.txt") << "not an image";
  ImageFolder ds(t.path);
  EXPECT_EQ(ds.class_names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ds.size(), 3);
  EXPECT_EQ(class_counts(ds), (std::vector<int64_t>{2, 1}));
  fs::create_directories(t.path + "/c_empty");
  expect_error([&] { ImageFolder bad(t.path); }, {t.path, "c_empty", "no image files"});
  FileDatasetOptions allow;
  allow.allow_empty_classes = true;
  EXPECT_EQ(ImageFolder(t.path, allow).size(), 3);
  TempDir empty;
  expect_error([&] { ImageFolder bad(empty.path); }, {empty.path, "no class folders"});
  expect_error([&] { ImageFolder bad(empty.path + "/missing"); }, {"missing", "no such folder"});
  expect_error([&] { FixedLabelFolder bad(empty.path, 0); }, {empty.path, "no image files"});
}

TEST(Datasets, FixedLabelsConcatSplit) {
  EMBER_NEED_SHARED_DATA("hymenoptera_data");
  // The source documents' workflow: two folders with labels 0 and 1,
  // concatenated and split 80/20 with a seed.
  const std::string root = shared_data() + "/hymenoptera_data/val";
  auto ants = std::make_shared<FixedLabelFolder>(root + "/ants", 0);
  auto bees = std::make_shared<FixedLabelFolder>(root + "/bees", 1);
  auto all = std::make_shared<ConcatDataset>(std::vector<DatasetPtr>{ants, bees});
  ASSERT_EQ(all->size(), 70 + 83);
  EXPECT_EQ(class_counts(*all), (std::vector<int64_t>{70, 83}));
  EXPECT_EQ(all->label(69), 0);
  EXPECT_EQ(all->label(70), 1);
  auto [train, val] = train_val_split(all, 0.2, 42);
  EXPECT_EQ(val->size(), 30);
  EXPECT_EQ(train->size(), 123);
  std::set<std::string> seen;
  for (auto& part : {train, val})
    for (int64_t i = 0; i < part->size(); ++i) seen.insert(part->source(i));
  EXPECT_EQ(seen.size(), 153u);  // a partition
  auto [train2, val2] = train_val_split(all, 0.2, 42);
  for (int64_t i = 0; i < val->size(); ++i) EXPECT_EQ(val->source(i), val2->source(i));  // same seed, same split
  auto [train3, val3] = train_val_split(all, 0.2, 43);
  int same = 0;
  for (int64_t i = 0; i < val->size(); ++i) same += val->source(i) == val3->source(i);
  EXPECT_LT(same, 10);
  auto parts = random_split(all, {0.5, 0.3, 0.2}, 1);
  EXPECT_EQ(parts[0]->size() + parts[1]->size() + parts[2]->size(), 153);
  EXPECT_EQ(parts[0]->size(), 77);  // floor(76.5) + 1 remainder, as torch.utils.data.random_split
  Subset sub(all, {3, 100});
  EXPECT_EQ(sub.label(1), 1);
  expect_error([&] { Subset bad(all, {153}); }, {"153", "out of range"});
  expect_error([&] { random_split(all, {100, 10}, 0); }, {"153"});
}

TEST(Datasets, CsvList) {
  EMBER_NEED_SHARED_DATA();
  TempDir t;
  copy_file(shared_data() + "/photos/parrot.jpg", t.path + "/img/p.jpg");
  {
    std::ofstream f(t.path + "/list.csv");
    f << "path,label\n img/p.jpg , 3\r\n" << shared_data() << "/photos/chelsea.png,1\n\n";
  }
  CsvImageList ds(t.path + "/list.csv");
  ASSERT_EQ(ds.size(), 2);
  EXPECT_EQ(ds.label(0), 3);
  EXPECT_EQ(ds.image(0).width, read_image(t.path + "/img/p.jpg").width);
  EXPECT_EQ(ds.image(1).channels, 3);
  std::ofstream(t.path + "/bad.csv") << "a.jpg,1\nb.jpg,cat\n";
  expect_error([&] { CsvImageList bad(t.path + "/bad.csv"); }, {"bad.csv", ":2", "cat"});
  std::ofstream(t.path + "/missing.csv") << "nothere.jpg,0\n";
  CsvImageList missing(t.path + "/missing.csv");
  expect_error([&] { missing.image(0); }, {"nothere.jpg"});
}

void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

TEST(Datasets, IdxAndCifar) {
  TempDir t;
  // 3 images of 2x4 and their labels, IDX format.
  std::vector<uint8_t> images{0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 4};
  for (int i = 0; i < 24; ++i) images.push_back(static_cast<uint8_t>(i * 10));
  write_gz(t.path + "/img.gz", images);
  write_gz(t.path + "/lab.gz", {0, 0, 8, 1, 0, 0, 0, 3, 7, 1, 9});
  IdxDataset idx(t.path + "/img.gz", t.path + "/lab.gz");
  ASSERT_EQ(idx.size(), 3);
  EXPECT_EQ(idx.label(2), 9);
  Image im = idx.image(1);
  EXPECT_EQ(im.shape_str(), "2x4x1");
  EXPECT_EQ(im.at(1, 3, 0), 150);
  write_gz(t.path + "/lab2.gz", {0, 0, 8, 1, 0, 0, 0, 2, 7, 1});
  expect_error([&] { IdxDataset bad(t.path + "/img.gz", t.path + "/lab2.gz"); }, {"lab2.gz"});

  // Two CIFAR-10 records: label, then R, G, B planes.
  std::vector<uint8_t> rec;
  for (int r = 0; r < 2; ++r) {
    rec.push_back(static_cast<uint8_t>(r + 4));
    for (int c = 0; c < 3; ++c)
      for (int k = 0; k < 1024; ++k) rec.push_back(static_cast<uint8_t>(c * 50 + r));
  }
  std::ofstream(t.path + "/data_batch_1.bin", std::ios::binary).write(reinterpret_cast<const char*>(rec.data()), static_cast<long>(rec.size()));
  CifarDataset cifar({t.path + "/data_batch_1.bin"});
  ASSERT_EQ(cifar.size(), 2);
  EXPECT_EQ(cifar.label(1), 5);
  Image c = cifar.image(1);
  EXPECT_EQ(c.at(5, 7, 0), 1);
  EXPECT_EQ(c.at(5, 7, 2), 101);
  std::ofstream(t.path + "/short.bin", std::ios::binary).write(reinterpret_cast<const char*>(rec.data()), 5000);
  expect_error([&] { CifarDataset bad({t.path + "/short.bin"}); }, {"short.bin", "3073"});
  expect_error([&] { CifarDataset bad({t.path + "/data_batch_1.bin"}, 100); }, {"data_batch_1.bin"});
}

}  // namespace
}  // namespace ember::test
