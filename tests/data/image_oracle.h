// Test helpers for data/: the image oracles (Albumentations in its own
// virtual environment, torchvision/PIL in Debian's python3) run as
// subprocesses of tests/oracle/image_oracle.py, the shared real images,
// and image comparisons. Header-only because tests/CMakeLists.txt builds
// one program per *_test.cpp.
//
//   Image want = albu().call_image("a.rotate", {{"angle", 30}, ...}, {img});
//   expect_close(mine, want, 1, "Rotate 30");
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/image.h"
#include "engine/error.h"

namespace ember::test {

using json = nlohmann::json;

// A raw array crossing the pipe: uint8 or float32, any shape.
struct Array {
  std::vector<int64_t> shape;
  std::string dtype = "uint8";
  std::string bytes;
  static Array of(const Image& img) {
    return {{img.height, img.width, img.channels}, "uint8",
            std::string(reinterpret_cast<const char*>(img.pixels.data()), img.pixels.size())};
  }
  static Array of(const std::vector<float>& v, std::vector<int64_t> shape) {
    return {std::move(shape), "float32", std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4)};
  }
  Image image() const {
    EMBER_CHECK(dtype == "uint8" && shape.size() == 3, "oracle", "expected a uint8 HWC image, got ", dtype);
    Image img(static_cast<int>(shape[0]), static_cast<int>(shape[1]), static_cast<int>(shape[2]));
    std::memcpy(img.pixels.data(), bytes.data(), img.pixels.size());
    return img;
  }
  std::vector<float> floats() const {
    EMBER_CHECK(dtype == "float32", "oracle", "expected float32, got ", dtype);
    std::vector<float> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), bytes.size());
    return v;
  }
};

inline bool require_oracle() {
  const char* v = std::getenv("EMBER_REQUIRE_ORACLE");
  return v && std::string(v) == "1";
}

class ImageOracle {
 public:
  ImageOracle(std::string python, std::string library) : python_(std::move(python)), library_(std::move(library)) {
    const std::string script = std::string(EMBER_SOURCE_DIR) + "/tests/oracle/image_oracle.py";
    if (access(python_.c_str(), X_OK) != 0) {
      reason_ = python_ + " does not exist (run tools/test.sh, which creates the Albumentations environment)";
      return;
    }
    int in_pipe[2], out_pipe[2];
    if (pipe(in_pipe) != 0 || pipe(out_pipe) != 0) {
      reason_ = "cannot create pipes";
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in_pipe[0], 0);
      dup2(out_pipe[1], 1);
      close(in_pipe[1]);
      close(out_pipe[0]);
      execl(python_.c_str(), python_.c_str(), script.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    signal(SIGPIPE, SIG_IGN);
    to_ = fdopen(in_pipe[1], "wb");
    from_ = fdopen(out_pipe[0], "rb");
    try {
      json hello = json::parse(read_line());
      ok_ = hello.contains(library_);
      versions_ = hello.dump();
      if (!ok_) reason_ = library_ + " cannot be imported by " + python_ + " (found " + versions_ + ")";
    } catch (const std::exception& e) {
      reason_ = "the oracle " + python_ + " did not start: " + e.what();
    }
  }
  ~ImageOracle() {
    if (to_) std::fclose(to_);
    if (from_) std::fclose(from_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }
  bool ok() const { return ok_; }
  const std::string& reason() const { return reason_; }

  // Calls fn; returns its arrays (or, for functions returning JSON, sets *out_json).
  std::vector<Array> call(const std::string& fn, const json& args, const std::vector<Array>& arrays = {},
                          json* out_json = nullptr) {
    json h{{"fn", fn}, {"args", args}, {"arrays", json::array()}};
    for (const Array& a : arrays) h["arrays"].push_back({{"shape", a.shape}, {"dtype", a.dtype}});
    std::string line = h.dump() + "\n";
    std::fwrite(line.data(), 1, line.size(), to_);
    for (const Array& a : arrays) std::fwrite(a.bytes.data(), 1, a.bytes.size(), to_);
    std::fflush(to_);
    json reply = json::parse(read_line());
    if (reply.contains("error")) throw Error(library_ + " oracle failed on " + fn + ": " + reply["error"].get<std::string>());
    if (out_json && reply.contains("json")) *out_json = reply["json"];
    std::vector<Array> out;
    for (const json& m : reply["arrays"]) {
      Array a;
      a.shape = m["shape"].get<std::vector<int64_t>>();
      a.dtype = m["dtype"].get<std::string>();
      size_t n = 1;
      for (int64_t d : a.shape) n *= static_cast<size_t>(d);
      n *= a.dtype == "uint8" ? 1 : 4;
      a.bytes.resize(n);
      if (n && std::fread(a.bytes.data(), 1, n, from_) != n) throw Error("oracle: short read");
      out.push_back(std::move(a));
    }
    return out;
  }
  Image call_image(const std::string& fn, const json& args, const std::vector<Array>& arrays) {
    return call(fn, args, arrays).at(0).image();
  }
  Image call_image(const std::string& fn, const json& args, const Image& img) {
    return call_image(fn, args, std::vector<Array>{Array::of(img)});
  }

 private:
  std::string read_line() {
    std::string line;
    int c;
    while ((c = std::fgetc(from_)) != EOF && c != '\n') line.push_back(static_cast<char>(c));
    if (line.empty() && c == EOF) throw Error("the oracle process exited");
    return line;
  }
  std::string python_, library_, reason_, versions_;
  pid_t pid_ = -1;
  FILE* to_ = nullptr;
  FILE* from_ = nullptr;
  bool ok_ = false;
};

inline ImageOracle& albu() {
  static ImageOracle o([] {
    const char* p = std::getenv("EMBER_ALBUMENTATIONS_PYTHON");
    return std::string(p ? p : std::string(EMBER_SOURCE_DIR) + "/build-venv/albumentations/bin/python");
  }(), "albumentations");
  return o;
}

inline ImageOracle& tv() {
  static ImageOracle o([] {
    const char* p = std::getenv("EMBER_PYTHON");
    return std::string(p ? p : "/usr/bin/python3");
  }(), "torchvision");
  return o;
}

// Skips (or fails, under EMBER_REQUIRE_ORACLE=1) when the oracle is missing.
#define EMBER_NEED_ORACLE(oracle)                                                           \
  do {                                                                                      \
    if (!(oracle).ok()) {                                                                   \
      if (::ember::test::require_oracle()) FAIL() << "EMBER_REQUIRE_ORACLE=1 but " << (oracle).reason(); \
      GTEST_SKIP() << (oracle).reason();                                                    \
    }                                                                                       \
  } while (0)

// The shared real images: $EMBER_SHARED_DATA or <repo>/../shared/data.
inline std::string shared_data() {
  const char* p = std::getenv("EMBER_SHARED_DATA");
  return p ? std::string(p) : std::string(EMBER_SOURCE_DIR) + "/../shared/data";
}
// Skips the test unless each listed folder ("photos" when none is listed) is
// in the shared data, naming the first one missing.
#define EMBER_NEED_SHARED_DATA(...)                                                                  \
  do {                                                                                               \
    for (const char* ember_part_ : {"photos" __VA_OPT__(, ) __VA_ARGS__}) {                          \
      const std::string ember_path_ = ::ember::test::shared_data() + "/" + ember_part_;              \
      if (!std::filesystem::exists(ember_path_))                                                     \
        GTEST_SKIP() << "shared data not found: " << ember_path_ << " (set EMBER_SHARED_DATA)";      \
    }                                                                                                \
  } while (0)

struct ImageDiff {
  int max_abs = 0;
  double mismatch_fraction = 0;  // of values that differ at all
  bool same_shape = true;
};

inline ImageDiff diff(const Image& a, const Image& b) {
  ImageDiff d;
  if (a.height != b.height || a.width != b.width || a.channels != b.channels) {
    d.same_shape = false;
    d.max_abs = 256;
    return d;
  }
  size_t n = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) {
    int e = std::abs(int{a.pixels[i]} - int{b.pixels[i]});
    d.max_abs = std::max(d.max_abs, e);
    n += e != 0;
  }
  d.mismatch_fraction = a.pixels.empty() ? 0 : static_cast<double>(n) / static_cast<double>(a.pixels.size());
  return d;
}

// Expects |a - b| <= tol everywhere and reports the worst difference.
inline void expect_close(const Image& mine, const Image& want, int tol, const std::string& what) {
  ImageDiff d = diff(mine, want);
  ASSERT_TRUE(d.same_shape) << what << ": shape " << mine.shape_str() << " vs oracle " << want.shape_str();
  EXPECT_LE(d.max_abs, tol) << what << ": max difference " << d.max_abs << " levels, "
                            << 100 * d.mismatch_fraction << "% of values differ";
  if (d.max_abs > tol && std::getenv("EMBER_IMAGE_DEBUG_DIR")) {
    static int n = 0;
    std::string base = std::string(std::getenv("EMBER_IMAGE_DEBUG_DIR")) + "/" + std::to_string(n++);
    for (auto [img, tag] : {std::pair{&mine, "mine"}, std::pair{&want, "want"}}) {
      if (FILE* f = std::fopen((base + "_" + tag + ".raw").c_str(), "wb")) {
        std::fprintf(f, "%d %d %d\n", img->height, img->width, img->channels);
        std::fwrite(img->pixels.data(), 1, img->pixels.size(), f);
        std::fclose(f);
      }
    }
  }
  if (const char* log = std::getenv("EMBER_IMAGE_ORACLE_LOG")) {
    if (FILE* f = std::fopen(log, "a")) {
      std::fprintf(f, "%s\t%d\t%.6f\n", what.c_str(), d.max_abs, d.mismatch_fraction);
      std::fclose(f);
    }
  }
}

}  // namespace ember::test
