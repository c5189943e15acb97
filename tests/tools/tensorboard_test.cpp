// TensorBoardWriter: the event files are read back by TensorBoard itself
// (its EventAccumulator, from the venv tools/test.sh builds), the TFRecord
// framing and CRCs are checked record by record with TensorBoard's protos,
// and CRC-32C is compared with Python's computation from the definition.
#include "tools/lib/tensorboard_writer.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/error.h"
#include "tests/support/oracle.h"
#include "tests/tools/python_tool.h"

namespace ember::test {
namespace {

namespace fs = std::filesystem;

fs::path fresh_folder(const std::string& name) { return test_folder("tensorboard_" + name); }

std::string to_hex(std::string_view s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) out += {digits[c >> 4], digits[c & 15]};
  return out;
}

double now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(TensorBoard, Crc32cMatchesTheDefinitionAndTensorBoard) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);  // the published CRC-32C check value
  std::string lengths;
  for (int i = 0; i < 8; ++i) lengths.push_back(static_cast<char>(i == 0 ? 57 : 0));  // a TFRecord length header
  std::string long_bytes;
  for (int i = 0; i < 3000; ++i) long_bytes.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  const std::vector<std::string> inputs = {"", "a", "123456789", "brain.Event:2", lengths, long_bytes,
                                           std::string(32, '\0'), std::string(32, '\xff')};
  std::vector<std::string> args = {"crc"};
  for (const std::string& s : inputs) args.push_back(to_hex(s));
  // Python's bit-by-bit CRC needs nothing but Python; TensorBoard's own
  // masked CRC is compared too when its venv is there.
  std::string python = python_missing(tensorboard_python(), "tensorboard").empty() ? tensorboard_python()
                                                                                   : system_python();
  EMBER_REQUIRE_PYTHON_MODULE(python, "json");
  nlohmann::json ref = log_oracle(python, args);
  ASSERT_EQ(ref.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    SCOPED_TRACE("input " + std::to_string(i) + " (" + std::to_string(inputs[i].size()) + " bytes)");
    EXPECT_EQ(crc32c(inputs[i]), ref[i]["crc"].get<uint32_t>());
    EXPECT_EQ(masked_crc32c(inputs[i]), ref[i]["masked"].get<uint32_t>());
    if (!ref[i]["tensorboard_masked"].is_null()) {
      EXPECT_EQ(masked_crc32c(inputs[i]), ref[i]["tensorboard_masked"].get<uint32_t>());
    }
  }
}

TEST(TensorBoard, FrameLayout) {
  std::string frame = tfrecord_frame("abc");
  ASSERT_EQ(frame.size(), 8u + 4 + 3 + 4);
  EXPECT_EQ(frame.substr(0, 8), std::string("\x03\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(frame.substr(12, 3), "abc");
  uint32_t header_crc = 0, data_crc = 0;
  std::memcpy(&header_crc, frame.data() + 8, 4);
  std::memcpy(&data_crc, frame.data() + 15, 4);
  EXPECT_EQ(header_crc, masked_crc32c(frame.substr(0, 8)));
  EXPECT_EQ(data_crc, masked_crc32c("abc"));
}

TEST(TensorBoard, TensorBoardReadsTheScalars) {
  EMBER_REQUIRE_PYTHON_MODULE(tensorboard_python(), "tensorboard");
  fs::path folder = fresh_folder("scalars") / "run1";  // parents are created
  const double start = now();
  std::string file;
  // Epochs of a pretend run; step 0 and value 0.0 must survive proto3 encoding.
  const std::vector<double> loss = {2.302585, 0.0, -1.5, 1e-8, 3.4e38, 0.123456789};
  {
    TensorBoardWriter tb(folder.string());
    file = tb.path();
    for (size_t i = 0; i < loss.size(); ++i) {
      tb.add_scalar("Loss/train", loss[i], static_cast<int64_t>(i) * 100);
      tb.add_scalar("Accuracy/val", 0.1 * static_cast<double>(i), static_cast<int64_t>(i));
      tb.flush();
    }
    tb.add_scalar("lr", 0.05, 1'000'000'000'000LL, 1234.5);  // a given wall time, a large step
  }  // the destructor flushes and closes
  const double end = now();
  EXPECT_EQ(fs::path(file).parent_path(), folder);
  EXPECT_EQ(fs::path(file).filename().string().rfind("events.out.tfevents.", 0), 0u) << file;

  nlohmann::json got = log_oracle(tensorboard_python(), {"scalars", folder.string()});
  ASSERT_FALSE(got.is_null());
  EXPECT_EQ(got["file_version"].get<double>(), 2.0);  // TensorBoard parses "brain.Event:2" to 2.0
  ASSERT_EQ(got["scalars"].size(), 3u) << got.dump();
  const nlohmann::json& l = got["scalars"]["Loss/train"];
  ASSERT_EQ(l.size(), loss.size());
  for (size_t i = 0; i < loss.size(); ++i) {
    EXPECT_EQ(l[i][1].get<int64_t>(), static_cast<int64_t>(i) * 100);
    EXPECT_EQ(l[i][2].get<double>(), static_cast<double>(static_cast<float>(loss[i])));  // stored as float
    EXPECT_GE(l[i][0].get<double>(), start - 1);
    EXPECT_LE(l[i][0].get<double>(), end + 1);
  }
  const nlohmann::json& a = got["scalars"]["Accuracy/val"];
  ASSERT_EQ(a.size(), loss.size());
  for (size_t i = 0; i < loss.size(); ++i) {
    EXPECT_EQ(a[i][1].get<int64_t>(), static_cast<int64_t>(i));
    EXPECT_EQ(a[i][2].get<double>(), static_cast<double>(static_cast<float>(0.1 * static_cast<double>(i))));
  }
  const nlohmann::json& lr = got["scalars"]["lr"];
  ASSERT_EQ(lr.size(), 1u);
  EXPECT_EQ(lr[0][0].get<double>(), 1234.5);
  EXPECT_EQ(lr[0][1].get<int64_t>(), 1'000'000'000'000LL);
  EXPECT_EQ(lr[0][2].get<double>(), static_cast<double>(0.05f));
}

TEST(TensorBoard, RecordsAreFramedAndTheFirstCarriesTheFileVersion) {
  EMBER_REQUIRE_PYTHON_MODULE(tensorboard_python(), "tensorboard");
  fs::path folder = fresh_folder("records");
  std::string file;
  {
    TensorBoardWriter tb(folder.string());
    file = tb.path();
    tb.add_scalar("Loss/val", 0.5, 7);
    tb.add_scalar("Loss/val", 0.25, 8);
    tb.flush();
  }
  nlohmann::json events = log_oracle(tensorboard_python(), {"records", file});
  ASSERT_EQ(events.size(), 3u) << events.dump();
  EXPECT_EQ(events[0]["what"], "file_version");
  EXPECT_EQ(events[0]["file_version"], "brain.Event:2");
  EXPECT_GT(events[0]["wall_time"].get<double>(), 1.6e9);
  for (int i = 1; i < 3; ++i) {
    EXPECT_EQ(events[i]["what"], "summary");
    EXPECT_EQ(events[i]["step"].get<int64_t>(), 6 + i);
    ASSERT_EQ(events[i]["values"].size(), 1u);
    EXPECT_EQ(events[i]["values"][0][0], "Loss/val");
    EXPECT_EQ(events[i]["values"][0][1], "simple_value");
    EXPECT_EQ(events[i]["values"][0][2].get<double>(), i == 1 ? 0.5 : 0.25);
  }
}

TEST(TensorBoard, FlushMakesEventsVisibleWhileTheWriterIsOpen) {
  fs::path folder = fresh_folder("flush");
  TensorBoardWriter tb(folder.string());
  const auto size_after_open = fs::file_size(tb.path());
  EXPECT_GT(size_after_open, 16u);  // the file-version event is on disk at once
  tb.add_scalar("x", 1, 1);
  tb.flush();
  EXPECT_GT(fs::file_size(tb.path()), size_after_open);
}

TEST(TensorBoard, TwoWritersInOneFolderGetTwoFiles) {
  fs::path folder = fresh_folder("two");
  TensorBoardWriter a(folder.string()), b(folder.string());
  EXPECT_NE(a.path(), b.path());
}

TEST(TensorBoard, AFolderThatCannotBeCreatedIsAClearError) {
  fs::path base = fresh_folder("blocked");
  fs::create_directories(base);
  std::ofstream(base / "file") << "x";
  const std::string bad = (base / "file" / "run").string();
  expect_error([&] { TensorBoardWriter tb(bad); }, {"TensorBoardWriter", "cannot create the log folder", bad});
}

TEST(TensorBoard, AFailedWriteIsAClearError) {
  // A file-size limit makes writes fail as a full disk would (EFBIG instead of ENOSPC).
  fs::path folder = fresh_folder("full");
  TensorBoardWriter tb(folder.string());
  std::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  getrlimit(RLIMIT_FSIZE, &old);
  rlimit small = old;
  small.rlim_cur = static_cast<rlim_t>(fs::file_size(tb.path()) + 100);
  setrlimit(RLIMIT_FSIZE, &small);
  auto write_a_lot = [&] {
    for (int i = 0; i < 10000; ++i) tb.add_scalar("Loss/train", 1.0, i);
    tb.flush();
  };
  expect_error(write_a_lot, {"TensorBoardWriter", "cannot write to", tb.path()});
  setrlimit(RLIMIT_FSIZE, &old);
  try {  // closing after a failure may report it again; it must not crash
    tb.close();
  } catch (const Error&) {
  }
}

}  // namespace
}  // namespace ember::test
