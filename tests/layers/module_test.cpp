// The Module system against torch.nn: state_dict names and order, strict and
// non-strict loading, freezing by prefix, train/eval, devices, printing;
// and each layer's forward against its torch.nn counterpart.
#include <gtest/gtest.h>

#include "layers/layers.h"
#include "models/registry.h"
#include "tests/support/oracle.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

// conv-bn-relu-pool, then flatten and linear: the same as the torch model below.
std::shared_ptr<Sequential> small_net() {
  auto net = std::make_shared<Sequential>();
  net->add(make_conv2d(3, 4, 3, 1, 1));
  net->add(std::make_shared<BatchNorm2d>(4));
  net->add(make_relu());
  net->add(std::make_shared<MaxPool2d>(Pair{2, 2}));
  net->add(std::make_shared<Flatten>());
  net->add(std::make_shared<Linear>(4 * 4 * 4, 5));
  return net;
}
const char* kTorchSmallNet =
    "torch.manual_seed(0)\n"
    "m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),\n"
    "    torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(64, 5))\n";

TEST(Module, StateDictNamesAndOrderMatchPyTorch) {
  EMBER_REQUIRE_TORCH();
  auto net = small_net();
  auto theirs = torch_eval_named("m.state_dict()", {}, kTorchSmallNet);
  NamedTensors mine = net->state_dict();
  ASSERT_EQ(mine.size(), theirs.size());
  for (size_t i = 0; i < mine.size(); ++i) {
    EXPECT_EQ(mine[i].first, theirs[i].first);
    EXPECT_EQ(mine[i].second.shape(), theirs[i].second.shape()) << mine[i].first;
  }
  EXPECT_EQ(net->num_parameters(), 3 * 4 * 9 + 4 + 4 + 4 + 64 * 5 + 5);
}

TEST(Module, LoadedWeightsGiveTorchOutputsInTrainAndEval) {
  EMBER_REQUIRE_TORCH();
  auto net = small_net();
  auto state = torch_eval_named("m.state_dict()", {}, kTorchSmallNet);
  EXPECT_TRUE(net->load_state_dict(state).ok());
  Tensor x = randn({2, 3, 8, 8});
  net->eval();
  Tensor mine = (*net)(x);
  Tensor theirs = torch_eval("m.eval()(a)", {x}, kTorchSmallNet)[0];
  EXPECT_LE(relative_error(mine, theirs), 1e-5);
  net->train();
  Tensor mine_train = (*net)(x);
  auto after = torch_eval_named("{'out': m.train()(a), **m.state_dict()}", {x}, kTorchSmallNet);
  EXPECT_LE(relative_error(mine_train, after[0].second), 1e-5);
  NamedTensors sd = net->state_dict();
  for (size_t i = 0; i < sd.size(); ++i) {
    EXPECT_LE(relative_error(sd[i].second, after[i + 1].second), 1e-5) << sd[i].first;  // running stats moved alike
  }
}

TEST(Module, LoadReportsMissingUnexpectedAndMismatched) {
  auto net = small_net();
  NamedTensors sd = net->state_dict();
  NamedTensors edited(sd.begin() + 1, sd.end());           // drop 0.weight
  edited.emplace_back("extra.weight", zeros({2}));          // add an unknown key
  edited[0].second = zeros({7});                             // 0.bias has shape [4]
  expect_error([&] { net->load_state_dict(edited); },
               {"load_state_dict", "0.weight", "extra.weight", "0.bias", "[4]", "[7]"});
  LoadReport r = net->load_state_dict(edited, /*strict=*/false);
  EXPECT_EQ(r.missing, std::vector<std::string>{"0.weight"});
  EXPECT_EQ(r.unexpected, std::vector<std::string>{"extra.weight"});
  EXPECT_EQ(r.mismatched.size(), 1u);
}

TEST(Module, FreezeAndUnfreezeByPrefix) {
  ModulePtr model = create_model("resnet18", 10);
  int64_t total = model->num_parameters();
  set_requires_grad(*model, {}, false);
  EXPECT_EQ(model->num_parameters(true), 0);
  set_requires_grad(*model, {"layer4", "fc"}, true);
  int64_t trainable = 0;
  for (auto& [name, p] : model->named_parameters()) {
    bool want = name_has_prefix(name, "layer4") || name_has_prefix(name, "fc");
    EXPECT_EQ(p.requires_grad(), want) << name;
    if (want) trainable += p.numel();
  }
  EXPECT_EQ(model->num_parameters(true), trainable);
  EXPECT_EQ(model->num_parameters(), total);
  expect_error([&] { set_requires_grad(*model, {"layer5"}, true); }, {"unfreeze", "layer5"});
  EXPECT_FALSE(name_has_prefix("layer40.weight", "layer4"));
}

TEST(Module, TrainEvalAndReplaceHead) {
  ModulePtr model = create_model("resnet18", 1000);
  model->eval();
  for (auto& [_, m] : model->named_modules()) EXPECT_FALSE(m->is_training());
  replace_head(*model, "fc", 2, 0.5);
  NamedTensors sd = model->state_dict();
  EXPECT_EQ(sd[sd.size() - 2].first, "fc.1.weight");
  EXPECT_EQ(sd.back().second.shape(), (Shape{2}));
  Tensor y = (*model)(randn({1, 3, 64, 64}));
  EXPECT_EQ(y.shape(), (Shape{1, 2}));
  EXPECT_NE(model->repr().find("(fc): Sequential(\n    (0): Dropout(p=0.5"), std::string::npos) << model->repr();
  expect_error([] { create_model("resnet19"); }, {"model", "resnet19", "resnet18"});
}

TEST(Module, MovingToAnotherDtypeKeepsIdentity) {
  auto lin = std::make_shared<Linear>(3, 2);
  Tensor w = lin->weight;
  lin->to(DType::Float64);
  EXPECT_EQ(w.dtype(), DType::Float64);  // the layer's own handle sees the change
  EXPECT_TRUE(w.requires_grad());
  EXPECT_EQ((*lin)(randn({4, 3}, DType::Float64)).dtype(), DType::Float64);
}

TEST(Layers, EachLayerMatchesTorchNn) {
  // Parameterless layers and pooling through check_op (forward and backward).
  check_op({in::randn({2, 3, 9, 9})}, "torch.nn.MaxPool2d(3, 2, 1)(a)",
           [](const Inputs& x) { return MaxPool2d({3, 3}, {2, 2}, {1, 1})(x[0]); });
  check_op({in::randn({2, 3, 9, 9})}, "torch.nn.AvgPool2d(2)(a)", [](const Inputs& x) { return AvgPool2d({2, 2})(x[0]); });
  check_op({in::randn({2, 3, 9, 9})}, "torch.nn.AdaptiveAvgPool2d(1)(a)",
           [](const Inputs& x) { return AdaptiveAvgPool2d({1, 1})(x[0]); });
  check_op({in::randn({2, 3, 4})}, "torch.nn.Flatten()(a)", [](const Inputs& x) { return Flatten()(x[0]); });
  for (const char* act : {"relu", "relu6", "silu", "hardswish", "hardsigmoid", "sigmoid", "tanh"}) {
    std::string cls = std::string(act) == "relu" ? "ReLU" : std::string(act) == "relu6" ? "ReLU6"
                      : std::string(act) == "silu" ? "SiLU" : std::string(act) == "hardswish" ? "Hardswish"
                      : std::string(act) == "hardsigmoid" ? "Hardsigmoid" : std::string(act) == "sigmoid" ? "Sigmoid"
                                                                                                      : "Tanh";
    check_op({in::uniform({3, 8}, -5, 5)}, "torch.nn." + cls + "()(a)",
             [&](const Inputs& x) { return (*make_activation(act))(x[0]); });
  }
}

TEST(Layers, SqueezeExcitationAndStochasticDepthMatchTorchvisionOps) {
  EMBER_REQUIRE_TORCH();
  std::string setup = "import torchvision\ntorch.manual_seed(1)\nm = torchvision.ops.SqueezeExcitation(8, 2, torch.nn.SiLU)\n";
  SqueezeExcitation se(8, 2, make_silu);
  auto state = torch_eval_named("m.state_dict()", {}, setup);
  se.load_state_dict(state);
  Tensor x = randn({2, 8, 5, 5});
  EXPECT_LE(relative_error(se(x), torch_eval("m(a)", {x}, setup)[0]), 1e-5);
  StochasticDepth sd(0.3);
  sd.eval();
  EXPECT_TRUE(sd(x).is_same(x));
  sd.train();
  manual_seed(3);
  Tensor y = sd(ones({1000, 1, 1, 1}));
  double kept = mean(gt(y, 0.0).to(DType::Float32)).item();
  EXPECT_NEAR(kept, 0.7, 0.05);
  EXPECT_NEAR(max(y).item(), 1.0 / 0.7, 1e-5);
}

TEST(Losses, ModulesAndNtXentMatchPyTorch) {
  check_op({in::randn({6, 4}), in::integers({6}, 0, 4)}, "torch.nn.CrossEntropyLoss(label_smoothing=0.1)(a, b)",
           [](const Inputs& x) { return CrossEntropyLoss(Tensor(), 0.1)(x[0], x[1]); });
  check_op({in::randn({6, 1}), in::integers({6}, 0, 2)}, "torch.nn.BCEWithLogitsLoss()(a, b.float().unsqueeze(1))",
           [](const Inputs& x) { return BCEWithLogitsLoss()(x[0], x[1]); });
  // NT-Xent written out in PyTorch as SimCLR implementations do.
  std::string nt_xent =
      "(lambda z: F.cross_entropy((F.normalize(z, dim=1) @ F.normalize(z, dim=1).t() / 0.5)"
      ".masked_fill(torch.eye(8, dtype=torch.bool), float('-inf')), torch.arange(8).roll(4)))(torch.cat([a, b]))";
  check_op({in::randn({4, 6}), in::randn({4, 6})}, nt_xent, [](const Inputs& x) { return nt_xent_loss(x[0], x[1], 0.5); });
}

}  // namespace
}  // namespace ember
