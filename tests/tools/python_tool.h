// Runs tests/tools/log_oracle.py (the independent Python readers of run logs
// and charts) and the checks around it: which interpreter, whether it has
// the module a test needs, and skip-or-fail when it does not (a skip, unless
// EMBER_REQUIRE_ORACLE=1, as tools/test.sh sets, makes it a failure).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ember::test {

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `command` in a shell and returns its stdout (stderr passes through);
// exit_status gets the command's exit status.
inline std::string run_command(const std::string& command, int* exit_status = nullptr) {
  std::string out;
  std::FILE* p = popen(command.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
  int status = pclose(p);
  if (exit_status) *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// Debian's python3 (PIL, csv): EMBER_PYTHON or /usr/bin/python3.
inline std::string system_python() {
  const char* p = std::getenv("EMBER_PYTHON");
  return p && *p ? p : "/usr/bin/python3";
}

// TensorBoard's venv: EMBER_TENSORBOARD_PYTHON, or the one tools/test.sh builds.
inline std::string tensorboard_python() {
  const char* p = std::getenv("EMBER_TENSORBOARD_PYTHON");
  return p && *p ? p : std::string(EMBER_SOURCE_DIR) + "/build-venv/tensorboard/bin/python";
}

// Empty when `python` imports `module`; otherwise why not.
inline std::string python_missing(const std::string& python, const std::string& module) {
  if (!std::filesystem::exists(python)) return python + " does not exist";
  int status = 0;
  run_command(shell_quote(python) + " -c " + shell_quote("import " + module) + " 2>/dev/null", &status);
  return status == 0 ? "" : python + " cannot import " + module;
}

// An empty folder `name` under this test program's own temp folder, which
// is removed when the program exits.
inline std::filesystem::path test_folder(const std::string& name) {
  struct Root {
    std::filesystem::path path;
    ~Root() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static Root root{std::filesystem::temp_directory_path() / ("ember_tools_test_" + std::to_string(getpid()))};
  std::filesystem::path p = root.path / name;
  std::filesystem::remove_all(p);
  return p;
}

// The `ember` program of this build (tests run from build/tests/, it is in build/).
inline std::filesystem::path ember_program() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path() / "ember";
}

inline bool oracle_required() {
  const char* r = std::getenv("EMBER_REQUIRE_ORACLE");
  return r && std::string(r) == "1";
}

// Runs log_oracle.py with `args` and parses its JSON output.
inline nlohmann::json log_oracle(const std::string& python, const std::vector<std::string>& args) {
  std::string cmd = shell_quote(python) + " " + shell_quote(std::string(EMBER_SOURCE_DIR) + "/tests/tools/log_oracle.py");
  for (const std::string& a : args) cmd += " " + shell_quote(a);
  int status = 0;
  std::string out = run_command(cmd, &status);
  if (status != 0) {
    ADD_FAILURE() << "log_oracle.py failed (exit " << status << "): " << cmd;
    return nullptr;
  }
  return nlohmann::json::parse(out);
}

}  // namespace ember::test

// Skips the test when `python` lacks `module` (fails it under EMBER_REQUIRE_ORACLE=1).
#define EMBER_REQUIRE_PYTHON_MODULE(python, module)                                            \
  do {                                                                                         \
    std::string missing_ = ::ember::test::python_missing(python, module);                      \
    if (!missing_.empty()) {                                                                   \
      if (::ember::test::oracle_required()) FAIL() << "EMBER_REQUIRE_ORACLE=1 but " << missing_; \
      GTEST_SKIP() << missing_ << " (tools/test.sh installs it)";                              \
    }                                                                                          \
  } while (0)
