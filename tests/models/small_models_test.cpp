// Models torchvision lacks, each against a PyTorch twin written here from
// the source document (same names, so the harness in torchvision_check.h
// compares names, counts, eval logits, train gradients and BN statistics),
// and each parameter count against the document's own figure, recomputed by hand.
#include "models/registry.h"
#include "tests/models/torchvision_check.h"

namespace ember::test {
namespace {

// MobileNet V1, from Table 1 of Howard et al. 2017.
const char* kMobileNetV1Twin = R"(
import collections
def _cbr(cin, cout, k, stride=1, groups=1):
    return torch.nn.Sequential(torch.nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                               torch.nn.BatchNorm2d(cout), torch.nn.ReLU())
def mobilenet_v1_twin(num_classes):
    table = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2)] + \
            [(512, 512, 1)] * 5 + [(512, 1024, 2), (1024, 1024, 1)]
    blocks = [torch.nn.Sequential(_cbr(i, i, 3, s, groups=i), _cbr(i, o, 1)) for i, o, s in table]
    return torch.nn.Sequential(collections.OrderedDict(
        features=torch.nn.Sequential(_cbr(3, 32, 3, 2), *blocks), avgpool=torch.nn.AdaptiveAvgPool2d(1),
        flatten=torch.nn.Flatten(), classifier=torch.nn.Linear(1024, num_classes)))
)";

// The lecture's MNISTCNN (softmax left to the loss).
const char* kMnistTwin = R"(
class MNISTCNN(torch.nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 8, 5, stride=2)
        self.BN1 = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 8, 5, stride=2)
        self.BN2 = torch.nn.BatchNorm2d(8)
        self.conv3 = torch.nn.Conv2d(8, 8, 3, stride=1)
        self.fc = torch.nn.Linear(8 * 2 * 2, num_classes)
    def forward(self, x):
        x = self.BN1(F.relu(self.conv1(x)))
        x = self.BN2(F.relu(self.conv2(x)))
        x = F.relu(self.conv3(x))
        return self.fc(x.view(-1, 8 * 2 * 2))
)";

// The Keras cats-vs-dogs model in PyTorch layout, one logit.
const char* kCatsDogsTwin = R"(
class CatsDogs(torch.nn.Module):
    def __init__(self, num_classes=1):
        super().__init__()
        layers, cin = [], 3
        for cout in (32, 64, 128, 128):
            layers += [torch.nn.Conv2d(cin, cout, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2, 2)]
            cin = cout
        self.features = torch.nn.Sequential(*layers)
        self.dropout = torch.nn.Dropout(0.5)
        self.fc1 = torch.nn.Linear(6272, 512)
        self.fc2 = torch.nn.Linear(512, num_classes)
    def forward(self, x):
        x = self.dropout(torch.flatten(self.features(x), 1))
        return self.fc2(F.relu(self.fc1(x)))
)";

// The Keras CIFAR-10 feature extractor + classifier in PyTorch layout.
const char* kCifarTwin = R"(
class Cifar10CNN(torch.nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
                                            torch.nn.Conv2d(16, 32, 3, stride=2, padding=1), torch.nn.ReLU(),
                                            torch.nn.MaxPool2d(2))
        self.fc1 = torch.nn.Linear(2048, 128)
        self.fc2 = torch.nn.Linear(128, num_classes)
    def forward(self, x):
        return self.fc2(F.relu(self.fc1(torch.flatten(self.features(x), 1))))
)";

ModelCheck twin_check(const char* name, const char* prelude, const std::string& ctor, int64_t classes, Shape eval,
                      Shape train) {
  ModelCheck c{name, ctor, classes, std::move(eval), std::move(train)};
  c.torch_prelude = prelude;
  return c;
}

TEST(MobileNetV1, ParameterCountIsThePapers) {
  // By hand from Table 1: the stem conv + BN, then per block a 3x3 depthwise
  // conv (9 per channel) + BN and a 1x1 pointwise conv + BN, then the FC.
  int64_t count = 3 * 3 * 3 * 32 + 2 * 32;
  const int64_t blocks[][2] = {{32, 64},   {64, 128},  {128, 128}, {128, 256}, {256, 256},
                               {256, 512}, {512, 512}, {512, 512}, {512, 512}, {512, 512},
                               {512, 512}, {512, 1024}, {1024, 1024}};
  for (const auto& b : blocks) count += 9 * b[0] + 2 * b[0] + b[0] * b[1] + 2 * b[1];
  count += 1024 * 1000 + 1000;
  EXPECT_EQ(count, 4231976);  // "4.2 million parameters" (Table 8)
  EXPECT_EQ(create_model("mobilenet_v1", 1000)->num_parameters(), 4231976);
}

TEST(MobileNetV1, MatchesPyTorchTwin) {
  EMBER_REQUIRE_TORCH();
  check_against_torchvision(twin_check("mobilenet_v1", kMobileNetV1Twin, "mobilenet_v1_twin(10)", 10, {2, 3, 224, 224},
                                       {2, 3, 64, 64}));
  check_against_torchvision(
      twin_check("mobilenet_v1", kMobileNetV1Twin, "mobilenet_v1_twin(1000)", 1000, {1, 3, 193, 211}, {}));
}

TEST(MnistCnn, ParameterCountIsTheLectures) {
  // conv1 1*8*25+8, BN1 2*8, conv2 8*8*25+8, BN2 2*8, conv3 8*8*9+8, fc 32*10+10.
  EXPECT_EQ(208 + 16 + 1608 + 16 + 584 + 330, 2762);
  EXPECT_EQ(create_model("mnist_cnn", 10)->num_parameters(), 2762);
}

TEST(MnistCnn, MatchesPyTorchTwin) {
  EMBER_REQUIRE_TORCH();
  check_against_torchvision(twin_check("mnist_cnn", kMnistTwin, "MNISTCNN(10)", 10, {4, 1, 28, 28}, {4, 1, 28, 28}));
}

TEST(CatsDogsCnn, ParameterCountsAreTheKerasSummarys) {
  // The document's model.summary(), layer by layer.
  ModulePtr model = create_model("cats_dogs_cnn", 1);
  const std::pair<const char*, int64_t> layers[] = {{"features.0", 896},     {"features.3", 18496},
                                                    {"features.6", 73856},   {"features.9", 147584},
                                                    {"fc1", 3211776},        {"fc2", 513}};
  for (const auto& [path, count] : layers) EXPECT_EQ(model->find(path)->num_parameters(), count) << path;
  EXPECT_EQ(model->num_parameters(), 3453121);
}

TEST(CatsDogsCnn, MatchesPyTorchTwin) {
  EMBER_REQUIRE_TORCH();
  check_against_torchvision(twin_check("cats_dogs_cnn", kCatsDogsTwin, "CatsDogs(1)", 1, {2, 3, 150, 150}, {2, 3, 150, 150}));
}

TEST(Cifar10Cnn, ParameterCount) {
  // conv 3*16*9+16, conv 16*32*9+32, dense 2048*128+128, dense 128*10+10.
  EXPECT_EQ(448 + 4640 + 262272 + 1290, 268650);
  EXPECT_EQ(create_model("cifar10_cnn", 10)->num_parameters(), 268650);
}

TEST(Cifar10Cnn, MatchesPyTorchTwin) {
  EMBER_REQUIRE_TORCH();
  check_against_torchvision(twin_check("cifar10_cnn", kCifarTwin, "Cifar10CNN(10)", 10, {4, 3, 32, 32}, {4, 3, 32, 32}));
}

TEST(SmallCnns, FixedInputSizesAreClearErrors) {
  expect_error([] { (*create_model("mnist_cnn"))(zeros({1, 1, 32, 32})); }, {"MnistCnn", "[N, 1, 28, 28]"});
  expect_error([] { (*create_model("cats_dogs_cnn"))(zeros({1, 3, 224, 224})); }, {"CatsDogsCnn", "150"});
}

}  // namespace
}  // namespace ember::test
