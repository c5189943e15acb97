// `ember bench models` as a user meets it: mistakes end in one clear line
// (an unknown model named with a suggestion, a CUDA device that is not
// there, options Ember does not support yet), and a tiny run prints the JSON
// rows that tools/bench/compare_models.py reads, in float32 and in mixed
// precision. No timings are asserted: only that they are there and
// consistent with each other.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "engine/device.h"
#include "tests/tools/python_tool.h"

namespace ember::test {
namespace {

struct Result {
  int status = -1;
  std::string output;  // stdout, or stdout and stderr together
};

Result bench_models(const std::string& args, bool with_stderr = true) {
  Result r;
  std::string cmd = shell_quote(ember_program().string()) + " bench models " + args;
  r.output = run_command(cmd + (with_stderr ? " 2>&1" : ""), &r.status);
  return r;
}

// Arguments of a run that takes well under a second.
const std::string kTiny = "--model resnet18 --size 32 --batch 2 --iters 2 --warmup 1 --min-time 0 --threads 1";

TEST(BenchModels, UnknownModelIsNamedWithASuggestion) {
  Result r = bench_models("--model resnet18,resnt50");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("unknown model 'resnt50'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("did you mean 'resnet50'?"), std::string::npos) << r.output;
}

TEST(BenchModels, CudaWithoutAGpuFailsClearly) {
  if (cuda_available()) GTEST_SKIP() << "this machine has a CUDA device";
  Result r = bench_models(kTiny + " --device cuda");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--device cuda: "), std::string::npos) << r.output;
  const bool says_why = r.output.find("no CUDA device is available") != std::string::npos ||
                        r.output.find("built without CUDA") != std::string::npos;
  EXPECT_TRUE(says_why) << r.output;
}

TEST(BenchModels, UnknownPrecisionIsNamed) {
  Result r = bench_models(kTiny + " --precision fp8");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("fp8"), std::string::npos) << r.output;
}

TEST(BenchModels, CudaGraphsOnTheCpuSaySo) {
  Result r = bench_models(kTiny + " --cuda-graphs");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--cuda-graphs needs a CUDA device"), std::string::npos) << r.output;
}

TEST(BenchModels, ChannelsLastRuns) {
  Result r = bench_models(kTiny + " --channels-last --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("\"channels_last\":true"), std::string::npos) << r.output;
}

TEST(BenchModels, TinyRunPrintsOneJsonRowPerMode) {
  Result r = bench_models(kTiny + " --json", /*with_stderr=*/false);
  ASSERT_EQ(r.status, 0) << r.output;
  std::istringstream lines(r.output);
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 2u) << r.output;
  EXPECT_EQ(rows[0]["mode"], "infer");
  EXPECT_EQ(rows[1]["mode"], "train");
  for (const nlohmann::json& row : rows) {
    EXPECT_EQ(row["runner"], "ember");
    EXPECT_EQ(row["model"], "resnet18");
    EXPECT_EQ(row["batch"], 2);
    EXPECT_EQ(row["size"], 32);
    EXPECT_EQ(row["device"], "cpu");
    EXPECT_EQ(row["precision"], "float32");
    EXPECT_EQ(row["threads"], 1);
    EXPECT_GE(row["iters"].get<int>(), 2);
    const double median = row["median_ms"], p10 = row["p10_ms"], p90 = row["p90_ms"];
    EXPECT_GT(p10, 0.0);
    EXPECT_LE(p10, median);
    EXPECT_LE(median, p90);
    EXPECT_NEAR(row["images_per_s"].get<double>(), 2 * 1000.0 / median, 1e-6 * row["images_per_s"].get<double>());
    EXPECT_EQ(row["mem_measure"], "rss_growth");
    EXPECT_TRUE(row["peak_mem_mb"].is_number() || row["peak_mem_mb"].is_null()) << row.dump();
    EXPECT_GT(row["allocator_peak_mb"].get<double>(), 0.0);  // at least the weights
  }
}

// Mixed precision runs (autocast; float16 training with loss scaling) and says so in its rows.
TEST(BenchModels, MixedPrecisionRuns) {
  for (const char* precision : {"float16", "bfloat16"}) {
    Result r = bench_models(kTiny + " --json --precision " + precision, /*with_stderr=*/false);
    ASSERT_EQ(r.status, 0) << precision << ": " << r.output;
    std::istringstream lines(r.output);
    int rows = 0;
    for (std::string line; std::getline(lines, line); ++rows) {
      EXPECT_EQ(nlohmann::json::parse(line)["precision"], precision) << line;
    }
    EXPECT_EQ(rows, 2) << r.output;
  }
}

TEST(BenchModels, TableByDefault) {
  Result r = bench_models(kTiny + " --mode infer", /*with_stderr=*/false);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("median ms"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("resnet18"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("train"), std::string::npos) << "--mode infer ran a training step:\n" << r.output;
}

}  // namespace
}  // namespace ember::test
