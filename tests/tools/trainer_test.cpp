// `ember train` end to end on a tiny synthetic image folder: the run folder's
// files, resuming from last.ckpt giving the same losses as a run that was
// never interrupted, Ctrl-C saving and exiting cleanly, a non-finite loss
// stopping the run with the last good checkpoint kept, mixed precision, and
// clear errors for bad configs.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "data/encode.h"
#include "engine/ember.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/support/oracle.h"
#include "tools/train/train_config.h"
#include "tools/train/trainer.h"
#include "weights/checkpoint.h"

namespace ember {
namespace {

namespace fs = std::filesystem;
using ember::test::expect_error;

// Two classes told apart by brightness, with noise: learnable in a few steps.
std::string make_image_folder(const std::string& name) {
  fs::path root = fs::temp_directory_path() / ("ember_trainer_test_" + name);
  fs::remove_all(root);
  uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int>((state >> 33) % 64);
  };
  for (int cls = 0; cls < 2; ++cls) {
    fs::path dir = root / (cls == 0 ? "dark" : "light");
    fs::create_directories(dir);
    for (int i = 0; i < 24; ++i) {
      Image img(16, 16, 3);
      for (auto& p : img.pixels) p = static_cast<uint8_t>((cls == 0 ? 40 : 150) + next());
      write_png((dir / ("img" + std::to_string(i) + ".png")).string(), img);
    }
  }
  return root.string();
}

TrainConfig tiny_config(const std::string& data, const std::string& out, const std::string& name, int epochs) {
  TrainConfig c;
  c.set("model.name", "resnet20", "test");
  c.set("data.train", data, "test");
  c.set("data.val_split", 0.25, "test");
  c.set("data.image_size", 16, "test");
  c.set("data.batch_size", 8, "test");
  c.set("data.workers", 0, "test");
  c.set("augment.train", nlohmann::json::parse(R"([{"op": "HorizontalFlip"}, {"op": "Normalize"}, {"op": "ToTensor"}])"),
        "test");
  c.set("optimizer.name", "sgd", "test");
  c.set("optimizer.lr", 0.05, "test");
  c.set("scheduler.name", "cosine", "test");
  c.set("train.epochs", epochs, "test");
  c.set("train.seed", 3, "test");
  c.set("output.dir", out, "test");
  c.set("output.name", name, "test");
  return c;
}

// Per-epoch "Loss/train" values from metrics.csv.
std::vector<double> epoch_losses(const std::string& csv_path) {
  std::ifstream in(csv_path);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  std::stringstream hs(line);
  for (std::string f; std::getline(hs, f, ',');) header.push_back(f);
  size_t col = std::find(header.begin(), header.end(), "Loss/train") - header.begin();
  EXPECT_LT(col, header.size()) << csv_path << " has no Loss/train column";
  std::vector<double> out;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream ls(line);
    for (std::string f; std::getline(ls, f, ',');) fields.push_back(f);
    if (col < fields.size() && !fields[col].empty()) out.push_back(std::stod(fields[col]));
  }
  return out;
}

TEST(Trainer, RunFolderAndResumeMatchesAnUninterruptedRun) {
  std::string data = make_image_folder("resume");
  std::string out = (fs::temp_directory_path() / "ember_trainer_test_runs").string();
  fs::remove_all(out);

  ASSERT_EQ(run_training(tiny_config(data, out, "straight", 3)), 0);
  const std::string straight = out + "/straight";
  for (const char* f : {"config.json", "metrics.csv", "loss.png", "accuracy.png", "last.ckpt", "best.ckpt"}) {
    EXPECT_TRUE(fs::exists(straight + "/" + f)) << f;
  }
  EXPECT_TRUE(fs::exists(straight + "/tensorboard")) << "tensorboard folder";
  std::vector<double> full = epoch_losses(straight + "/metrics.csv");
  ASSERT_EQ(full.size(), 3u);
  EXPECT_EQ(load_checkpoint(straight + "/last.ckpt").info().epoch, 3);

  // Stop after one epoch, then resume to three from last.ckpt.
  ASSERT_EQ(run_training(tiny_config(data, out, "interrupted", 1)), 0);
  TrainConfig resume = tiny_config(data, out, "resumed", 3);
  resume.set("train.resume", out + "/interrupted/last.ckpt", "test");
  ASSERT_EQ(run_training(resume), 0);
  std::vector<double> first = epoch_losses(out + "/interrupted/metrics.csv");
  std::vector<double> rest = epoch_losses(out + "/resumed/metrics.csv");
  ASSERT_EQ(first.size(), 1u);
  ASSERT_GE(rest.size(), 2u);
  EXPECT_NEAR(first[0], full[0], 1e-6 * std::abs(full[0]));
  // The resumed run's last two epochs are epochs 2 and 3 of the straight run.
  EXPECT_NEAR(rest[rest.size() - 2], full[1], 1e-5 * std::abs(full[1]));
  EXPECT_NEAR(rest.back(), full[2], 1e-5 * std::abs(full[2]));
}

TEST(Trainer, NonFiniteLossStopsAndKeepsTheLastGoodCheckpoint) {
  std::string data = make_image_folder("nan");
  std::string out = (fs::temp_directory_path() / "ember_trainer_test_nan_runs").string();
  fs::remove_all(out);
  // A learning rate that blows the loss up within the first epoch.
  TrainConfig bad = tiny_config(data, out, "blowup", 3);
  bad.set("optimizer.lr", 1e30, "test");
  bad.set("scheduler.name", "none", "test");
  EXPECT_EQ(run_training(bad), 1);
  // last.ckpt of the failed run (if it wrote one) holds finite weights.
  std::string ckpt = out + "/blowup/last.ckpt";
  if (fs::exists(ckpt)) {
    for (auto& [name, t] : load_checkpoint(ckpt).model) {
      if (!t.is_floating_point()) continue;
      for (double v : t.to_vector<double>()) ASSERT_TRUE(std::isfinite(v)) << name;
    }
  }
}

// Ctrl-C: the step in flight finishes, last.ckpt is saved, the run returns
// 130 (the shell's code for SIGINT), and resuming from that checkpoint works.
TEST(Trainer, CtrlCSavesLastCheckpointAndExitsCleanly) {
  std::string data = make_image_folder("sigint");
  std::string out = (fs::temp_directory_path() / "ember_trainer_test_sigint_runs").string();
  fs::remove_all(out);
  TrainConfig c = tiny_config(data, out, "sigint", 1000);
  c.set("train.log_every", 1, "test");
  int code = -1;
  std::thread run([&] { code = run_training(c); });
  // A per-step row in metrics.csv means the loop (and its SIGINT handler) is running.
  const std::string csv = out + "/sigint/metrics.csv";
  for (int i = 0; i < 6000; ++i) {
    std::ifstream in(csv);
    std::string header, row;
    if (std::getline(in, header) && std::getline(in, row)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::raise(SIGINT);
  run.join();
  EXPECT_EQ(code, 130);
  const std::string ckpt = out + "/sigint/last.ckpt";
  ASSERT_TRUE(fs::exists(ckpt)) << "no last.ckpt after Ctrl-C";
  const int64_t epochs_done = load_checkpoint(ckpt).info().epoch;
  EXPECT_LT(epochs_done, 1000);
  TrainConfig resume = tiny_config(data, out, "sigint_resumed", static_cast<int>(epochs_done) + 1);
  resume.set("train.resume", ckpt, "test");
  EXPECT_EQ(run_training(resume), 0);
  EXPECT_EQ(load_checkpoint(out + "/sigint_resumed/last.ckpt").info().epoch, epochs_done + 1);
}

TEST(Trainer, SimclrPretrainingThenLinearProbe) {
  std::string data = make_image_folder("simclr");
  std::string out = (fs::temp_directory_path() / "ember_trainer_test_simclr_runs").string();
  fs::remove_all(out);
  TrainConfig c = tiny_config(data, out, "simclr", 1);
  c.set("task", "simclr", "test");
  c.set("simclr.epochs", 2, "test");
  c.set("simclr.projection_dim", 16, "test");
  c.set("data.drop_last", true, "test");
  ASSERT_EQ(run_training(c), 0);
  // One NT-Xent loss per pre-training epoch, all finite, then the probe's run.
  std::ifstream csv(out + "/simclr/simclr.csv");
  ASSERT_TRUE(csv.good()) << "no simclr.csv";
  std::string line;
  int rows = 0;
  std::getline(csv, line);
  while (std::getline(csv, line)) {
    double loss = std::stod(line.substr(line.find(',') + 1));
    EXPECT_TRUE(std::isfinite(loss) && loss > 0) << line;
    ++rows;
  }
  EXPECT_EQ(rows, 2);
}

// Mixed precision end to end. bfloat16 (autocast, no scaling) follows the
// float32 run's first epoch; float16 (autocast and loss scaling) learns, may skip
// its first steps while the scale comes down from 2^16 (as PyTorch's
// GradScaler does), checkpoints the scaler, and a resumed run matches an
// uninterrupted one.
TEST(Trainer, MixedPrecisionTrainsAndResumes) {
  std::string data = make_image_folder("amp");
  std::string out = (fs::temp_directory_path() / "ember_trainer_test_amp_runs").string();
  fs::remove_all(out);
  auto run = [&](const std::string& name, const std::string& precision, int epochs, const std::string& resume = "") {
    TrainConfig c = tiny_config(data, out, name, epochs);
    c.set("train.precision", precision, "test");
    c.set("optimizer.lr", 0.005, "test");
    c.set("scheduler.name", "none", "test");
    if (!resume.empty()) c.set("train.resume", resume, "test");
    EXPECT_EQ(run_training(c), 0) << name;
    return epoch_losses(out + "/" + name + "/metrics.csv");
  };
  const std::vector<double> f32 = run("float32", "float32", 3);
  const std::vector<double> bf16 = run("bfloat16", "bfloat16", 3);
  const std::vector<double> f16 = run("float16", "float16", 3);
  ASSERT_EQ(f32.size(), 3u);
  ASSERT_EQ(bf16.size(), 3u);
  ASSERT_EQ(f16.size(), 3u);
  // Five steps on: later epochs differ by more than bfloat16's rounding
  // (this tiny run is chaotic), so they only have to learn.
  EXPECT_NEAR(bf16[0], f32[0], 0.03 * f32[0]);
  EXPECT_LT(bf16[2], 0.5 * bf16[0]);
  EXPECT_LT(f16[2], 0.5 * f16[0]);
  // 15 steps, no growth (interval 2000): the scale is 2^16 halved once per
  // skipped step, and the clean-step streak is at most 15.
  nlohmann::json scaler = load_checkpoint(out + "/float16/last.ckpt").info().extra["grad_scaler"];
  const double skipped = 16 - std::log2(scaler["scale"].get<double>());
  EXPECT_TRUE(skipped >= 0 && skipped <= 3 && skipped == std::floor(skipped)) << scaler.dump();
  EXPECT_LE(scaler["_growth_tracker"].get<double>(), 15 - skipped) << scaler.dump();

  run("float16_first", "float16", 1);
  const std::vector<double> rest = run("float16_resumed", "float16", 3, out + "/float16_first/last.ckpt");
  ASSERT_GE(rest.size(), 2u);
  EXPECT_NEAR(rest.back(), f16[2], 1e-5 * f16[2]);

  TrainConfig bad = tiny_config(data, out, "bad", 1);
  bad.set("train.precision", "fp8", "test");
  expect_error([&] { run_training(bad); }, {"train.precision must be float32, float16 or bfloat16", "fp8"});
}

TEST(Trainer, BadConfigsAreClearErrors) {
  std::string out = (fs::temp_directory_path() / "ember_trainer_test_bad_runs").string();
  expect_error([&] { run_training(tiny_config("/nonexistent/folder", out, "x", 1)); }, {"/nonexistent/folder"});
  TrainConfig c;
  expect_error([&] { c.set("optimizer.lr=abc"); }, {"optimizer.lr"});
  expect_error([&] { c.set("optimizer.lrr=0.1"); }, {"optimizer.lrr", "optimizer.lr"});
  TrainConfig m = tiny_config(make_image_folder("badmodel"), out, "x", 1);
  m.set("model.name", "resnet19", "test");
  expect_error([&] { run_training(m); }, {"resnet19"});
  TrainConfig g = tiny_config(make_image_folder("badgraphs"), out, "x", 1);
  g.set("train.cuda_graphs", true, "test");
  expect_error([&] { run_training(g); }, {"train.cuda_graphs", "needs train.device cuda"});
}

// --set takes JSON, and YAML's flow style as the config files write it.
TEST(Trainer, SetTakesJsonOrYamlFlowValues) {
  TrainConfig c;
  c.set("freeze.unfreeze=[layer3, layer4]");
  EXPECT_EQ(c.get("freeze.unfreeze"), nlohmann::json::parse(R"(["layer3", "layer4"])"));
  c.set("model.head_from_classes=[ant, 309]");
  EXPECT_EQ(c.get("model.head_from_classes"), nlohmann::json::parse(R"(["ant", 309])"));
  c.set("optimizer.groups={layer4: 5e-4, fc: {lr: 1e-3, weight_decay: 0}}");
  EXPECT_EQ(c.get("optimizer.groups"), nlohmann::json::parse(R"({"layer4": 5e-4, "fc": {"lr": 1e-3, "weight_decay": 0}})"));
  c.set(R"(freeze.unfreeze=["a", "b"])");
  EXPECT_EQ(c.get("freeze.unfreeze"), nlohmann::json::parse(R"(["a", "b"])"));
  c.set("model.head_from_classes=[]");
  EXPECT_TRUE(c.get("model.head_from_classes").empty());
  expect_error([&] { c.set("freeze.unfreeze=[layer3, layer4"); }, {"--set freeze.unfreeze=[layer3, layer4", "not valid YAML"});
  expect_error([&] { c.set("freeze.unfreeze={a: 1}"); }, {"freeze.unfreeze must be a list"});
}

// The same run eagerly and with train.cuda_graphs: 36 training images in
// batches of 8 are four replayed steps and an eager one of 4 per epoch, so
// the graph's gradient buffers must survive the eager step's zero_grad.
TEST(Trainer, CudaGraphsFollowTheEagerRun) {
  EMBER_REQUIRE_CUDA();
  std::string data = make_image_folder("graphs");
  std::string out = (fs::temp_directory_path() / "ember_trainer_test_graph_runs").string();
  fs::remove_all(out);
  auto run = [&](const std::string& name, bool graphs, const std::string& precision) {
    TrainConfig c = tiny_config(data, out, name, 3);
    c.set("train.device", "cuda", "test");
    c.set("train.deterministic", true, "test");
    c.set("train.precision", precision, "test");
    c.set("train.cuda_graphs", graphs, "test");
    c.set("augment.train", nlohmann::json::parse(R"([{"op": "Normalize"}, {"op": "ToTensor"}])"), "test");
    EXPECT_EQ(run_training(c), 0) << name;
    return epoch_losses(out + "/" + name + "/metrics.csv");
  };
  for (const std::string precision : {"float32", "float16"}) {
    const std::vector<double> eager = run("eager_" + precision, false, precision);
    const std::vector<double> graphed = run("graphed_" + precision, true, precision);
    ASSERT_EQ(eager.size(), 3u) << precision;
    ASSERT_EQ(graphed.size(), 3u) << precision;
    for (size_t e = 0; e < 3; ++e) EXPECT_NEAR(graphed[e], eager[e], 1e-4 * eager[e]) << precision << " epoch " << e;
  }
}

}  // namespace
}  // namespace ember
