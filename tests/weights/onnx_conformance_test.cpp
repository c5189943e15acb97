// ONNX's own backend tests (Debian's libonnx-testdata): every case whose
// graph uses only the ops Ember's runner covers is run with its recorded
// inputs and compared with its recorded outputs, with the tolerance of
// ONNX's backend tests (rtol 1e-3, atol 1e-7). Cases are skipped, with the
// reason printed, only for what the runner reports as unsupported (an
// attribute value, training mode, a non-tensor value) or for non-float data
// that Ember's kernels do not take; any other error or wrong number fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "engine/ember.h"
#include "weights/onnx_runner.h"
#include "weights/onnx_tensors.h"

namespace ember::test {
namespace {

namespace fs = std::filesystem;

// The ops the runner promises (weights/onnx_runner.h): the 30 the CNN
// exporters use plus Slice, Cast and ConstantOfShape.
const std::set<std::string> kScope = {
    "Conv", "BatchNormalization", "Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Mul", "Add", "Sub",
    "Div", "Concat", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten", "Reshape", "Gemm", "MatMul",
    "Softmax", "ReduceMean", "Dropout", "Identity", "Pad", "Transpose", "Squeeze", "Unsqueeze", "Shape",
    "Gather", "Constant", "Slice", "Cast", "ConstantOfShape"};

std::string data_root() {
  const char* env = std::getenv("EMBER_ONNX_TESTDATA");
  return env ? env : "/usr/share/libonnx-testdata/data";
}

std::vector<std::string> sorted_files(const fs::path& dir, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && e.path().extension() == ".pb") out.push_back(e.path().string());
  }
  // input_0.pb ... input_10.pb: numeric order.
  std::sort(out.begin(), out.end(), [&](const std::string& a, const std::string& b) {
    auto num = [&](const std::string& p) { return std::stoi(fs::path(p).stem().string().substr(prefix.size())); };
    return num(a) < num(b);
  });
  return out;
}

// "" when every value is within atol + rtol * |expected| (NaNs must match).
std::string compare(const Tensor& got, const Tensor& want) {
  if (got.shape() != want.shape()) return cat_str("shape ", got.shape(), ", expected ", want.shape());
  if (got.is_floating_point() != want.is_floating_point()) {
    return cat_str("dtype ", dtype_name(got.dtype()), ", expected ", dtype_name(want.dtype()));
  }
  std::vector<double> g = got.to(kCPU).to(DType::Float64).contiguous().to_vector<double>();
  std::vector<double> w = want.to(DType::Float64).contiguous().to_vector<double>();
  const double rtol = 1e-3, atol = 1e-7;
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(w[i]) && std::isnan(g[i])) continue;
    if (std::isinf(w[i]) && g[i] == w[i]) continue;
    if (!(std::abs(g[i] - w[i]) <= atol + rtol * std::abs(w[i]))) {
      return cat_str("element ", i, " is ", g[i], ", expected ", w[i]);
    }
  }
  return "";
}

bool is_float(DType t) { return t == DType::Float32 || t == DType::Float64; }

TEST(OnnxConformance, NodeAndPyTorchConvertedCases) {
  const fs::path root = data_root();
  if (!fs::is_directory(root / "node")) {
    GTEST_SKIP() << root << " not found: install Debian's libonnx-testdata (tools/setup.sh --test)";
  }
  int passed = 0, failed = 0, skipped = 0, out_of_scope = 0;
  std::vector<std::string> failures, skips;
  for (const char* suite : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    if (!fs::is_directory(root / suite)) continue;
    std::vector<fs::path> cases;
    for (const auto& e : fs::directory_iterator(root / suite)) cases.push_back(e.path());
    std::sort(cases.begin(), cases.end());
    for (const fs::path& dir : cases) {
      const std::string name = std::string(suite) + "/" + dir.filename().string();
      const fs::path model = dir / "model.onnx";
      if (!fs::exists(model)) continue;
      std::vector<std::string> ops;
      try {
        ops = OnnxRunner::op_types(model.string());
      } catch (const Error&) {
        ++out_of_scope;
        continue;
      }
      if (ops.empty() || !std::all_of(ops.begin(), ops.end(), [](const std::string& op) { return kScope.count(op) > 0; })) {
        ++out_of_scope;
        continue;
      }
      auto skip = [&](const std::string& why) {
        ++skipped;
        skips.push_back(name + ": " + why);
      };
      auto failure = [&](const std::string& why) {
        ++failed;
        failures.push_back(name + ": " + why);
      };
      std::vector<fs::path> sets;
      for (const auto& e : fs::directory_iterator(dir)) {
        if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
      }
      std::sort(sets.begin(), sets.end());
      // Cases with non-float data run too; what Ember cannot do for them
      // (uint8 pooling, ...) counts as skipped, with the reason.
      bool non_float = false;
      try {
        OnnxRunner runner(model.string());
        std::vector<std::vector<Tensor>> set_inputs, set_outputs;
        for (const fs::path& set : sets) {
          std::vector<Tensor> ins, outs;
          for (const auto& f : sorted_files(set, "input_")) ins.push_back(load_onnx_tensor(f));
          for (const auto& f : sorted_files(set, "output_")) outs.push_back(load_onnx_tensor(f));
          for (const auto* list : {&ins, &outs}) {
            for (const Tensor& t : *list) non_float |= !is_float(t.dtype());
          }
          set_inputs.push_back(ins);
          set_outputs.push_back(outs);
        }
        std::string problem;
        for (size_t s = 0; s < sets.size() && problem.empty(); ++s) {
          std::vector<Tensor> got = runner.run(set_inputs[s]);
          if (got.size() < set_outputs[s].size()) problem = "too few outputs";
          for (size_t k = 0; k < set_outputs[s].size() && problem.empty(); ++k) {
            std::string diff = compare(got[k], set_outputs[s][k]);
            if (!diff.empty()) problem = cat_str(sets[s].filename().string(), " output ", k, ": ", diff);
          }
        }
        if (problem.empty()) {
          ++passed;
        } else if (non_float) {
          skip("non-float data: " + problem);
        } else {
          failure(problem);
        }
      } catch (const Error& e) {
        const std::string msg = e.what();
        if (msg.find("not supported") != std::string::npos) {
          skip(msg);
        } else if (non_float) {
          skip("non-float data: " + msg);
        } else {
          failure(msg);
        }
      }
    }
  }
  for (const auto& s : skips) std::printf("skipped %s\n", s.c_str());
  for (const auto& f : failures) std::printf("FAILED %s\n", f.c_str());
  std::printf("onnx conformance: %d passed, %d failed, %d skipped (%d cases use other ops)\n", passed, failed,
              skipped, out_of_scope);
  EXPECT_EQ(failed, 0);
  EXPECT_GT(passed, 150);
}

}  // namespace
}  // namespace ember::test
