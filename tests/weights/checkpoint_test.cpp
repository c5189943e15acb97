// Checkpoints: a round trip restores model, optimizer and step; a write that
// fails part-way (a full disk, here a file-size limit) is a clear error and
// leaves the previous checkpoint intact; a file that is not a checkpoint is
// rejected with its name.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "engine/ember.h"
#include "layers/layers.h"
#include "tests/support/oracle.h"
#include "weights/checkpoint.h"

namespace ember {
namespace {

namespace fs = std::filesystem;
using ember::test::expect_error;
using ember::test::relative_error;

std::string test_path(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "ember_checkpoint_test";
  fs::create_directories(dir);
  return (dir / name).string();
}

TEST(Checkpoint, RoundTripRestoresModelOptimizerAndStep) {
  manual_seed(0);
  auto model = std::make_shared<Linear>(4, 3);
  Adam opt(single_group(model->parameters(), 1e-2, 0.0));
  for (int i = 0; i < 3; ++i) {
    opt.zero_grad();
    sum((*model)(randn({5, 4})) * (*model)(randn({5, 4}))).backward();
    opt.step();
  }
  CheckpointInfo info;
  info.epoch = 2;
  info.step = 3;
  const std::string path = test_path("roundtrip.ckpt");
  save_checkpoint(path, *model, &opt, nullptr, info);

  auto other = std::make_shared<Linear>(4, 3);
  Adam other_opt(single_group(other->parameters(), 1e-2, 0.0));
  Checkpoint ckpt = load_checkpoint(path);
  restore_checkpoint(ckpt, *other, &other_opt, nullptr, path);
  EXPECT_EQ(ckpt.info().epoch, 2);
  EXPECT_EQ(ckpt.info().step, 3);
  auto a = model->state_dict(), b = other->state_dict();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(relative_error(b[i].second, a[i].second), 0.0) << a[i].first;
  // The next step from the restored state equals the next step of the original.
  manual_seed(7);
  Tensor x = randn({5, 4});
  opt.zero_grad();
  other_opt.zero_grad();
  sum((*model)(x)).backward();
  sum((*other)(x)).backward();
  opt.step();
  other_opt.step();
  a = model->state_dict();
  b = other->state_dict();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(relative_error(b[i].second, a[i].second), 0.0) << a[i].first;
}

TEST(Checkpoint, AFailedWriteKeepsThePreviousCheckpoint) {
  auto model = std::make_shared<Linear>(64, 64);
  const std::string path = test_path("full_disk.ckpt");
  CheckpointInfo info;
  info.epoch = 1;
  save_checkpoint(path, *model, nullptr, nullptr, info);
  const auto size_before = fs::file_size(path);

  std::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  getrlimit(RLIMIT_FSIZE, &old);
  rlimit small = old;
  small.rlim_cur = 1024;  // as a full disk would, part-way through the file
  setrlimit(RLIMIT_FSIZE, &small);
  info.epoch = 2;
  bool threw = false;
  std::string message;
  try {
    save_checkpoint(path, *model, nullptr, nullptr, info);
  } catch (const std::exception& e) {
    threw = true;
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  EXPECT_TRUE(threw) << "a write past the size limit did not fail";
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_EQ(fs::file_size(path), size_before);
  EXPECT_EQ(load_checkpoint(path).info().epoch, 1);  // the old checkpoint, whole
}

TEST(Checkpoint, NotACheckpointIsAClearError) {
  const std::string path = test_path("not_a_checkpoint.ckpt");
  std::ofstream(path) << "hello";
  expect_error([&] { load_checkpoint(path); }, {path});
  expect_error([&] { load_checkpoint(test_path("missing.ckpt")); }, {"missing.ckpt"});
}

}  // namespace
}  // namespace ember
