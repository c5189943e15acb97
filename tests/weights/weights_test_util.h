// Helpers for the weights tests: a temporary folder, running a Python
// snippet with Debian's interpreter (NumPy/PyTorch write the reference
// files at test time, so no binary file is committed), and the location of
// the shared real weights.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace ember::test {

inline std::string python_path() {
  const char* py = std::getenv("EMBER_PYTHON");
  return py ? py : "/usr/bin/python3";
}

// Tests must find Python when the project's test command says so.
inline bool require_python() {
  const char* v = std::getenv("EMBER_REQUIRE_ORACLE");
  return v && std::string(v) == "1";
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ember_weights_XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

struct PyResult {
  int status = -1;
  std::string output;  // stdout and stderr together
};

// Runs `code` with the test Python in `cwd`; returns its exit status and output.
inline PyResult run_python(const std::string& code, const std::string& cwd, const std::string& args = "") {
  const std::string script = cwd + "/script_" + std::to_string(::getpid()) + ".py";
  {
    std::ofstream f(script);
    f << code;
  }
  const std::string cmd = "cd '" + cwd + "' && '" + python_path() + "' '" + script + "' " + args + " 2>&1";
  PyResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::filesystem::remove(script);
  return r;
}

// True when the test Python can import `modules` ("numpy", "torch, torchvision").
inline bool python_has(const std::string& modules) {
  TempDir d;
  return run_python("import " + modules + "\n", d.path.string()).status == 0;
}

#define EMBER_REQUIRE_PYTHON(modules)                                                            \
  do {                                                                                           \
    static const bool ok = ::ember::test::python_has(modules);                                   \
    if (!ok) {                                                                                   \
      if (::ember::test::require_python()) FAIL() << ::ember::test::python_path() << " lacks " << modules; \
      GTEST_SKIP() << ::ember::test::python_path() << " cannot import " << modules                \
                   << " (install python3-numpy / python3-torch / python3-torchvision)";        \
    }                                                                                            \
  } while (0)

// Real weights shared beside the checkout (EMBER_SHARED_WEIGHTS overrides).
inline std::string shared_weights_dir() {
  const char* env = std::getenv("EMBER_SHARED_WEIGHTS");
  return env ? env : std::string(EMBER_SOURCE_DIR) + "/../shared/weights";
}

inline std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace ember::test
