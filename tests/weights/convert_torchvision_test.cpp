// weights/convert_torchvision.py: a random torchvision model and the real
// checkpoints in shared/weights (a plain state_dict and DataParallel
// training checkpoints) become .npz files whose names, order and values
// equal the state_dict's, read back here by Ember's .npz reader, plus a
// manifest with the classes and preprocessing.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/ember.h"
#include "tests/weights/weights_test_util.h"
#include "weights/npz.h"

namespace ember::test {
namespace {

std::string converter() { return std::string(EMBER_SOURCE_DIR) + "/weights/convert_torchvision.py"; }

// Python that imports the converter as a module, to convert several files in one process.
std::string prelude() {
  return "import sys, numpy as np, torch, torchvision\n"
         "sys.path.insert(0, '" + std::string(EMBER_SOURCE_DIR) + "/weights')\n"
         "import convert_torchvision as conv\n"
         "def convert(*args):\n"
         "    rc = conv.main(list(args))\n"
         "    assert rc == 0, ('converter failed', args)\n"
         "def same(npz, state_dict, keys_file):\n"
         "    z = np.load(npz)\n"
         "    assert list(z.keys()) == list(state_dict.keys()), (list(z.keys())[:5], list(state_dict.keys())[:5])\n"
         "    for k, v in state_dict.items():\n"
         "        assert z[k].dtype == v.numpy().dtype and (z[k] == v.numpy()).all(), k\n"
         "    open(keys_file, 'w').write('\\n'.join(state_dict.keys()))\n";
}

std::vector<std::string> lines(const std::string& path) {
  std::vector<std::string> out;
  std::stringstream s(read_text(path));
  for (std::string line; std::getline(s, line);) out.push_back(line);
  return out;
}

// The .npz as Ember reads it: the same names in the same order.
NamedTensors expect_keys(const std::string& npz, const std::string& keys_file) {
  NamedTensors t = load_npz(npz);
  std::vector<std::string> want = lines(keys_file);
  EXPECT_EQ(t.size(), want.size()) << npz;
  for (size_t i = 0; i < std::min(t.size(), want.size()); ++i) EXPECT_EQ(t[i].first, want[i]) << npz;
  return t;
}

TEST(ConvertTorchvision, RandomResnet18) {
  EMBER_REQUIRE_PYTHON("torch, torchvision, numpy");
  TempDir dir;
  PyResult r = run_python(prelude() + R"(
convert('resnet18', '--seed', '3', '-o', 'r18.npz')
torch.manual_seed(3)
same('r18.npz', torchvision.models.resnet18().state_dict(), 'r18.keys')
print('ok')
)", dir.path.string());
  ASSERT_EQ(r.status, 0) << r.output;
  NamedTensors t = expect_keys(dir.file("r18.npz"), dir.file("r18.keys"));
  std::map<std::string, Tensor> m = to_map(t, "r18.npz");
  EXPECT_EQ(m.at("fc.weight").shape(), (Shape{1000, 512}));
  EXPECT_EQ(m.at("bn1.num_batches_tracked").dtype(), DType::Int64);
  EXPECT_EQ(m.at("bn1.num_batches_tracked").dim(), 0);
  auto j = nlohmann::json::parse(read_text(dir.file("r18.json")));
  EXPECT_EQ(j["architecture"], "resnet18");
  EXPECT_EQ(j["num_classes"], 1000);
  EXPECT_EQ(j["classifier"], "fc.weight");
  EXPECT_EQ(j["weights"], "r18.npz");
  EXPECT_TRUE(j["verified_with_torchvision"].get<bool>());
  EXPECT_TRUE(j["class_names"].is_null());
  EXPECT_EQ(j["preprocessing"]["resize"], 256);
  EXPECT_EQ(j["preprocessing"]["crop"], 224);
  EXPECT_NEAR(j["preprocessing"]["mean"][0].get<double>(), 0.485, 1e-12);
  EXPECT_NEAR(j["preprocessing"]["std"][2].get<double>(), 0.225, 1e-12);
}

TEST(ConvertTorchvision, RealCheckpointsFromSharedWeights) {
  EMBER_REQUIRE_PYTHON("torch, torchvision, numpy");
  const std::string shared = shared_weights_dir();
  if (!std::filesystem::exists(shared + "/mobilenet_v2_imagenet_from_tflite.pth")) {
    GTEST_SKIP() << shared << " has no real weights (set EMBER_SHARED_WEIGHTS to the shared/weights folder)";
  }
  TempDir dir;
  PyResult r = run_python(prelude() + "W = '" + shared + "'\n" + R"(
convert(W + '/mobilenet_v2_imagenet_from_tflite.pth', '--arch', 'mobilenet_v2', '--classes', W + '/imagenet_classes.txt',
        '--mean', '0.5', '0.5', '0.5', '--std', '0.5', '0.5', '0.5', '-o', 'mnv2.npz')
same('mnv2.npz', torch.load(W + '/mobilenet_v2_imagenet_from_tflite.pth', map_location='cpu'), 'mnv2.keys')
for n in ['resnet20-12fca82f', 'resnet56-4bfd9763']:
    convert(W + '/cifar_resnet/' + n + '.th', '--arch', 'cifar_' + n.split('-')[0], '--resize', '32', '--crop', '32',
            '--compress', '-o', n + '.npz')
    sd = torch.load(W + '/cifar_resnet/' + n + '.th', map_location='cpu')['state_dict']
    same(n + '.npz', {k[len('module.'):]: v for k, v in sd.items()}, n + '.keys')
print('ok')
)", dir.path.string());
  ASSERT_EQ(r.status, 0) << r.output;

  NamedTensors mnv2 = expect_keys(dir.file("mnv2.npz"), dir.file("mnv2.keys"));
  EXPECT_EQ(to_map(mnv2, "mnv2").at("classifier.1.weight").shape(), (Shape{1000, 1280}));
  auto j = nlohmann::json::parse(read_text(dir.file("mnv2.json")));
  EXPECT_EQ(j["architecture"], "mobilenet_v2");
  EXPECT_TRUE(j["verified_with_torchvision"].get<bool>());
  EXPECT_EQ(j["verified_with"], "torchvision");
  EXPECT_EQ(j["num_classes"], 1000);
  ASSERT_EQ(j["class_names"].size(), 1000u);
  EXPECT_EQ(j["class_names"][282], "tiger cat");
  EXPECT_EQ(j["preprocessing"]["mean"][1], 0.5);
  EXPECT_EQ(j["source"]["sha256"], "29795a29040aa85f3fba3a784ba180bd630277dfc442df115198dbd1408ac235");

  for (const char* n : {"resnet20-12fca82f", "resnet56-4bfd9763"}) {
    NamedTensors t = expect_keys(dir.file(std::string(n) + ".npz"), dir.file(std::string(n) + ".keys"));
    for (const auto& [name, tensor] : t) EXPECT_NE(name.rfind("module.", 0), 0u) << name;
    auto m = nlohmann::json::parse(read_text(dir.file(std::string(n) + ".json")));
    EXPECT_EQ(m["num_classes"], 10) << n;
    EXPECT_EQ(m["classifier"], "linear.weight") << n;
    EXPECT_FALSE(m["verified_with_torchvision"].get<bool>()) << n;  // not a torchvision architecture
    EXPECT_TRUE(m["verified_with"].is_null()) << n;
    EXPECT_GT(m["checkpoint_metadata"]["best_prec1"].get<double>(), 90) << n;
    EXPECT_EQ(m["preprocessing"]["crop"], 32);
  }
}

TEST(ConvertTorchvision, BadSourcesEndInOneClearLine) {
  EMBER_REQUIRE_PYTHON("torch, torchvision, numpy");
  TempDir dir;
  std::ofstream(dir.file("notes.pth")) << "not a checkpoint\n";
  std::ofstream(dir.file("three.txt")) << "a\nb\nc\n";
  PyResult r = run_python(prelude() + R"(
import contextlib, io
def error_of(*args):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = conv.main(list(args))
    assert rc == 1, (args, rc)
    return err.getvalue()
print(error_of('missing.pth', '-o', 'x.npz'))
print(error_of('notes.pth', '-o', 'x.npz'))
print(error_of('resnet_9000', '-o', 'x.npz'))
print(error_of('resnet18', '--classes', 'three.txt', '-o', 'x.npz'))
print(error_of('notes.pth', '--arch', 'resnet18', '-o', 'x.npz'))
)", dir.path.string());
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* fragment : {"missing.pth: no such file", "notes.pth: cannot be read by torch.load",
                               "'resnet_9000' is neither a file nor a torchvision model name",
                               "three.txt: 3 class names, but the classifier 'fc.weight' has 1000 outputs"}) {
    EXPECT_NE(r.output.find(fragment), std::string::npos) << fragment << "\n" << r.output;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.npz")));
  // The script runs as a program too.
  PyResult cli = run_python("import subprocess, sys\nsys.exit(subprocess.call([sys.executable, '" + converter() +
                                "', '--help'], stdout=subprocess.DEVNULL))\n",
                            dir.path.string());
  EXPECT_EQ(cli.status, 0) << cli.output;
}

}  // namespace
}  // namespace ember::test
