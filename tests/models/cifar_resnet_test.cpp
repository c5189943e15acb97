// The CIFAR-10 ResNets against a PyTorch implementation of the paper's
// architecture written here (option-A shortcuts, as akamaster/
// pytorch_resnet_cifar10 whose checkpoints they load): random weights through
// the harness of torchvision_check.h, then the real ResNet-20 and ResNet-56
// checkpoints from the shared weights folder (EMBER_SHARED_WEIGHTS, default
// <repo>/../shared/weights; the test skips when it is absent).
#include <cstdlib>
#include <filesystem>

#include "models/cifar_resnet.h"
#include "models/registry.h"
#include "tests/models/torchvision_check.h"

namespace ember::test {
namespace {

const char* kCifarResNetTwin = R"(
class _Block(torch.nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(planes)
        self.conv2 = torch.nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(planes)
        self.pad = planes // 4 if stride != 1 or cin != planes else 0
    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        shortcut = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad), 'constant', 0) if self.pad else x
        return F.relu(out + shortcut)
class CifarResNet(torch.nn.Module):
    def __init__(self, depth, num_classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = torch.nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(16)
        cin = 16
        for stage, planes in enumerate((16, 32, 64)):
            blocks = []
            for b in range(n):
                blocks.append(_Block(cin, planes, 2 if b == 0 and stage > 0 else 1))
                cin = planes
            setattr(self, 'layer%d' % (stage + 1), torch.nn.Sequential(*blocks))
        self.linear = torch.nn.Linear(64, num_classes)
    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3])
        return self.linear(out.view(out.size(0), -1))
)";

ModelCheck twin_check(int64_t depth, Shape eval, Shape train) {
  ModelCheck c{"resnet" + std::to_string(depth), "CifarResNet(" + std::to_string(depth) + ")", 10, std::move(eval),
               std::move(train)};
  c.torch_prelude = kCifarResNetTwin;
  return c;
}

TEST(CifarResNet, ParameterCounts) {
  // The paper's Table 6: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M.
  const std::pair<int64_t, int64_t> counts[] = {{20, 269722}, {32, 464154}, {44, 658586}, {56, 853018}, {110, 1727962}};
  for (const auto& [depth, count] : counts) {
    EXPECT_EQ(create_model("resnet" + std::to_string(depth), 10)->num_parameters(), count) << depth;
  }
  expect_error([] { CifarResNet(21); }, {"CifarResNet", "6n + 2", "21"});
}

TEST(CifarResNet, MatchesPyTorchTwin) {
  EMBER_REQUIRE_TORCH();
  check_against_torchvision(twin_check(20, {4, 3, 32, 32}, {4, 3, 32, 32}));
  check_against_torchvision(twin_check(32, {2, 3, 32, 32}, {2, 3, 32, 32}));
  check_against_torchvision(twin_check(44, {2, 3, 32, 32}, {}));
  check_against_torchvision(twin_check(56, {2, 3, 32, 32}, {2, 3, 32, 32}));
  check_against_torchvision(twin_check(110, {2, 3, 32, 32}, {2, 3, 32, 32}));
}

std::filesystem::path shared_weights() {
  const char* env = std::getenv("EMBER_SHARED_WEIGHTS");
  return env ? std::filesystem::path(env) : std::filesystem::path(EMBER_SOURCE_DIR) / ".." / "shared" / "weights";
}

// Loads the checkpoint into the twin (PyTorch) and, stripped of "module.",
// into Ember; compares logits on a random batch.
void check_checkpoint(int64_t depth, const std::string& file) {
  std::filesystem::path path = shared_weights() / "cifar_resnet" / file;
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path.string() << " (set EMBER_SHARED_WEIGHTS)";
  std::string setup = std::string(kCifarResNetTwin) + "key = 'ckpt:" + path.string() + "'\n" +
                      "if key not in cache:\n"
                      "    ckpt = torch.load('" + path.string() + "', map_location='cpu')\n"
                      "    sd = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in ckpt['state_dict'].items()}\n"
                      "    net = CifarResNet(" + std::to_string(depth) + ")\n"
                      "    net.load_state_dict(sd)\n"
                      "    cache[key] = (sd, net.eval())\n"
                      "sd, net = cache[key]\n"
                      "torch.set_grad_enabled(False)\n";
  NamedTensors state = torch_eval_named("sd", {}, setup);
  ModulePtr model = create_model("resnet" + std::to_string(depth), 10);
  // These checkpoints predate BN's num_batches_tracked; everything else must match.
  LoadReport report = model->load_state_dict(state, /*strict=*/false);
  EXPECT_TRUE(report.unexpected.empty() && report.mismatched.empty()) << report.str();
  for (const std::string& name : report.missing) EXPECT_TRUE(name.ends_with("num_batches_tracked")) << name;
  const int64_t blocks = 3 * (depth - 2) / 6;
  EXPECT_EQ(report.missing.size(), static_cast<size_t>(1 + 2 * blocks));  // the stem's BN and two per block

  manual_seed(7);
  Tensor x = randn({8, 3, 32, 32});
  model->eval();
  Tensor logits;
  {
    NoGradGuard no_grad;
    logits = (*model)(x);
  }
  Tensor ref = torch_eval("net(a)", {x}, setup)[0];
  double err = relative_error(logits, ref);
  EXPECT_LE(err, 1e-4) << file;
  // The same classes come out on top.
  Tensor mine = argmax(logits, 1), theirs = argmax(ref, 1);
  for (int64_t i = 0; i < x.size(0); ++i) {
    EXPECT_EQ(mine.select(0, i).item<int64_t>(), theirs.select(0, i).item<int64_t>()) << file << " sample " << i;
  }
  std::printf("[ model ] resnet%lld with %s: eval logits max rel err %.2e\n", static_cast<long long>(depth),
              file.c_str(), err);
}

TEST(CifarResNet, RealResNet20Checkpoint) {
  EMBER_REQUIRE_TORCH();
  check_checkpoint(20, "resnet20-12fca82f.th");
}

TEST(CifarResNet, RealResNet56Checkpoint) {
  EMBER_REQUIRE_TORCH();
  check_checkpoint(56, "resnet56-4bfd9763.th");
}

}  // namespace
}  // namespace ember::test
