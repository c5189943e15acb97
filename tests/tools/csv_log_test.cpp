// CsvLog: the file is read back with Python's csv module after every kind of
// change (new row, merged row, new column, resumed log), and by hand while
// the log is still open (each row is flushed).
#include "tools/lib/csv_log.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/error.h"
#include "tests/support/oracle.h"
#include "tests/tools/python_tool.h"

namespace ember::test {
namespace {

namespace fs = std::filesystem;
using Rows = std::vector<std::vector<std::string>>;

Rows python_rows(const fs::path& file) {
  nlohmann::json j = log_oracle(system_python(), {"csv", file.string()});
  return j.is_null() ? Rows{} : j.get<Rows>();
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(CsvLog, RowsColumnsAndMergesReadBackWithPythonsCsv) {
  EMBER_REQUIRE_PYTHON_MODULE(system_python(), "csv");
  fs::path file = test_folder("csv_basic") / "logs" / "metrics.csv";  // the folder is created
  CsvLog log(file.string());
  log.log(1, 938, {{"Loss/train", 0.41234567f}, {"Accuracy/train", 0.8512}, {"lr", 0.1}});
  // Validation of the same epoch merges into its row and adds two columns.
  log.log(1, 938, {{"Loss/val", 0.38}, {"Accuracy/val", 0.861}});
  log.log(2, 1876, {{"Loss/train", 0.30112}, {"Accuracy/train", 0.8901}, {"lr", 1e-5}});
  log.log(2, 1876, {{"Loss/val", NAN}});
  EXPECT_EQ(log.columns(),
            (std::vector<std::string>{"epoch", "step", "Loss/train", "Accuracy/train", "lr", "Loss/val", "Accuracy/val"}));
  Rows rows = python_rows(file);
  Rows want = {{"epoch", "step", "Loss/train", "Accuracy/train", "lr", "Loss/val", "Accuracy/val"},
               {"1", "938", "0.41234568", "0.8512", "0.1", "0.38", "0.861"},
               {"2", "1876", "0.30112", "0.8901", "1e-05", "nan", ""}};
  EXPECT_EQ(rows, want);
}

TEST(CsvLog, ValuesReadBackExactly) {
  fs::path file = test_folder("csv_exact") / "m.csv";
  const std::vector<double> values = {0.1, 1.0 / 3.0, 2.302585092994046, 1e-300, -7.25, 123456789.0,
                                      static_cast<double>(0.7f), 3.4e38};
  CsvLog log(file.string());
  for (size_t i = 0; i < values.size(); ++i) log.log(0, static_cast<int64_t>(i), {{"v", values[i]}});
  std::istringstream in(read_text(file));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "epoch,step,v");
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_TRUE(std::getline(in, line));
    std::string v = line.substr(line.rfind(',') + 1);
    // A value that is a float reads back as that float; any other, as the double.
    if (static_cast<double>(static_cast<float>(values[i])) == values[i])
      EXPECT_EQ(std::strtof(v.c_str(), nullptr), static_cast<float>(values[i])) << line;
    else
      EXPECT_EQ(std::strtod(v.c_str(), nullptr), values[i]) << line;
  }
  EXPECT_NE(read_text(file).find("0,6,0.7\n"), std::string::npos);  // a float prints as that float
}

TEST(CsvLog, EachRowIsOnDiskAtOnce) {
  fs::path file = test_folder("csv_flush") / "m.csv";
  CsvLog log(file.string());
  EXPECT_EQ(read_text(file), "epoch,step\n");
  log.log(1, 10, {{"loss", 0.5}});
  EXPECT_EQ(read_text(file), "epoch,step,loss\n1,10,0.5\n");
  log.log(2, 20, {{"loss", 0.25}});
  EXPECT_EQ(read_text(file), "epoch,step,loss\n1,10,0.5\n2,20,0.25\n");
  log.log(2, 20, {{"loss", 0.125}});  // a merge overwrites the last row in place
  EXPECT_EQ(read_text(file), "epoch,step,loss\n1,10,0.5\n2,20,0.125\n");
  EXPECT_FALSE(fs::exists(file.string() + ".tmp"));
}

TEST(CsvLog, AppendKeepsAResumedRunsRows) {
  EMBER_REQUIRE_PYTHON_MODULE(system_python(), "csv");
  fs::path file = test_folder("csv_append") / "m.csv";
  {
    CsvLog log(file.string());
    log.log(1, 100, {{"Loss/train", 0.5}, {"odd, \"name\"", 1}});
  }
  {
    CsvLog log(file.string(), /*append=*/true);
    log.log(2, 200, {{"Loss/train", 0.25}, {"Loss/val", 0.75}});
  }
  Rows want = {{"epoch", "step", "Loss/train", "odd, \"name\"", "Loss/val"},
               {"1", "100", "0.5", "1", ""},
               {"2", "200", "0.25", "", "0.75"}};
  EXPECT_EQ(python_rows(file), want);
  CsvLog fresh(file.string());  // append = false starts over
  EXPECT_EQ(python_rows(file), (Rows{{"epoch", "step"}}));
}

TEST(CsvLog, ClearErrors) {
  fs::path base = test_folder("csv_errors");
  fs::create_directories(base);
  std::ofstream(base / "file") << "x";
  std::string blocked = (base / "file" / "m.csv").string();
  expect_error([&] { CsvLog log(blocked); }, {"CsvLog", "cannot create the log folder", (base / "file").string()});

  std::ofstream(base / "other.csv") << "a,b\n1,2\n";
  expect_error([&] { CsvLog log((base / "other.csv").string(), true); }, {"CsvLog", "other.csv", "not a CSV log"});

  CsvLog log((base / "m.csv").string());
  expect_error([&] { log.log(1, 1, {{"epoch", 1}}); }, {"CsvLog", "'epoch' is a reserved column"});
}

TEST(CsvLog, AFailedWriteIsAClearError) {
  fs::path file = test_folder("csv_full") / "m.csv";
  CsvLog log(file.string());
  std::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  getrlimit(RLIMIT_FSIZE, &old);
  rlimit small = old;
  small.rlim_cur = 64;  // as a full disk would, a few rows in
  setrlimit(RLIMIT_FSIZE, &small);
  auto write_rows = [&] {
    for (int i = 0; i < 100; ++i) log.log(1, i, {{"loss", 0.123456}});
  };
  expect_error(write_rows, {"CsvLog", "cannot write to", file.string()});
  setrlimit(RLIMIT_FSIZE, &old);
}

}  // namespace
}  // namespace ember::test
