// build_model's model.head_from_classes: a new head that starts from chosen
// rows of the pretrained classifier (by index, by name from a names file or
// from the manifest beside the weights), the binary-cross-entropy form, and
// clear errors for every way of asking for it wrongly.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/ember.h"
#include "layers/linear.h"
#include "models/registry.h"
#include "tests/support/oracle.h"
#include "tools/train/model_setup.h"
#include "tools/train/train_config.h"
#include "weights/npz.h"

namespace ember {
namespace {

namespace fs = std::filesystem;
using ember::test::expect_error;
using nlohmann::json;

const char* kModel = "resnet20";  // CIFAR ResNet: a 10-class Linear head, small enough to run here
const std::vector<std::string> kNames = {"airplane", "automobile", "bird", "cat",  "deer",
                                         "dog",      "frog",       "horse", "ship", "truck"};

fs::path test_dir() {
  fs::path dir = fs::temp_directory_path() / "ember_model_setup_test";
  fs::create_directories(dir);
  return dir;
}

// The last Linear of the model's classifier head.
Linear& head_linear(Module& model) {
  Linear* fc = ember::head_linear(model, model_entry(kModel).head);
  EXPECT_NE(fc, nullptr);
  return *fc;
}

// A 10-class model with seeded weights, saved as .npz; returns the model.
ModulePtr pretrained(const std::string& path) {
  manual_seed(11);
  ModulePtr m = create_model(kModel, 10);
  {
    NoGradGuard no_grad;  // a non-zero bias, so that copying the bias rows is checked too
    head_linear(*m).bias.copy_(randn({10}));
  }
  save_npz(path, m->state_dict());
  return m;
}

TrainConfig head_config(const std::string& weights, const json& classes, double dropout = 0.5) {
  TrainConfig c;
  c.set("model.name", kModel, "test");
  c.set("model.weights", weights, "test");
  c.set("model.new_head", true, "test");
  c.set("model.head_dropout", dropout, "test");
  c.set("model.head_from_classes", classes, "test");
  return c;
}

void expect_rows_equal(const Tensor& got, const Tensor& source, int64_t got_row, int64_t source_row) {
  std::vector<float> a = got.select(0, got_row).contiguous().to_vector<float>();
  std::vector<float> b = source.select(0, source_row).contiguous().to_vector<float>();
  EXPECT_EQ(a, b) << "row " << got_row << " should be the pretrained row " << source_row;
}

TEST(HeadFromClasses, IndicesCopyThosePretrainedRows) {
  std::string weights = (test_dir() / "indices.npz").string();
  ModulePtr old = pretrained(weights);
  ModelSetup s = build_model(head_config(weights, json::array({7, 2})), 2);
  Linear& fc = head_linear(*s.model);
  ASSERT_EQ(fc.out_features, 2);
  expect_rows_equal(fc.weight, head_linear(*old).weight, 0, 7);
  expect_rows_equal(fc.weight, head_linear(*old).weight, 1, 2);
  expect_rows_equal(fc.bias.view({2, 1}), head_linear(*old).bias.view({10, 1}), 0, 7);
  expect_rows_equal(fc.bias.view({2, 1}), head_linear(*old).bias.view({10, 1}), 1, 2);
  EXPECT_NE(s.report.find("starting from the pretrained classes 7 2"), std::string::npos) << s.report;
  // Still a new head: Dropout + Linear, and its parameters train.
  EXPECT_EQ(s.model->child(model_entry(kModel).head)->type_name(), "Sequential");
  EXPECT_TRUE(fc.weight.requires_grad());
}

// Every class in its own order with no dropout is the pretrained model itself:
// eval logits equal bit for bit.
TEST(HeadFromClasses, AllClassesInOrderReproduceThePretrainedLogits) {
  std::string weights = (test_dir() / "identity.npz").string();
  ModulePtr old = pretrained(weights);
  ModelSetup s = build_model(head_config(weights, json::array({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}), 0.0), 10);
  old->eval();
  s.model->eval();
  Tensor x = randn({3, 3, 32, 32});
  EXPECT_EQ(s.model->forward(x).to_vector<float>(), old->forward(x).to_vector<float>());
}

TEST(HeadFromClasses, NamesFromAFileOrTheManifestBesideTheWeights) {
  std::string weights = (test_dir() / "named.npz").string();
  ModulePtr old = pretrained(weights);
  std::string names = (test_dir() / "names.txt").string();
  {
    std::ofstream f(names);
    for (const std::string& n : kNames) f << n << "\r\n";  // Windows line ends are read too
  }
  TrainConfig c = head_config(weights, json::array({"horse", "bird", 0}));
  c.set("model.class_names", names, "test");
  ModelSetup s = build_model(c, 3);
  expect_rows_equal(head_linear(*s.model).weight, head_linear(*old).weight, 0, 7);
  expect_rows_equal(head_linear(*s.model).weight, head_linear(*old).weight, 1, 2);
  expect_rows_equal(head_linear(*s.model).weight, head_linear(*old).weight, 2, 0);

  // Without model.class_names: the manifest convert_torchvision.py writes beside the weights.
  std::ofstream(test_dir() / "named.json") << json{{"arch", kModel}, {"class_names", kNames}}.dump();
  ModelSetup m = build_model(head_config(weights, json::array({"truck", "ship"})), 2);
  expect_rows_equal(head_linear(*m.model).weight, head_linear(*old).weight, 0, 9);
  expect_rows_equal(head_linear(*m.model).weight, head_linear(*old).weight, 1, 8);
  fs::remove(test_dir() / "named.json");
}

// With binary cross-entropy the head has one output; sigmoid of it must be
// the pretrained model's softmax over the two chosen classes.
TEST(HeadFromClasses, OneLogitForBinaryCrossEntropyIsTheTwoClassSoftmax) {
  std::string weights = (test_dir() / "bce.npz").string();
  ModulePtr old = pretrained(weights);
  TrainConfig c = head_config(weights, json::array({3, 5}));
  c.set("loss.name", "bce_with_logits", "test");
  ModelSetup s = build_model(c, 1);
  ASSERT_EQ(head_linear(*s.model).out_features, 1);
  old->eval();
  s.model->eval();
  Tensor x = randn({4, 3, 32, 32});
  std::vector<float> p = sigmoid(s.model->forward(x)).to_vector<float>();
  Tensor logits = old->forward(x);
  std::vector<float> q = softmax(cat({logits.narrow(1, 3, 1), logits.narrow(1, 5, 1)}, 1), 1)
                             .narrow(1, 1, 1).contiguous().to_vector<float>();
  ASSERT_EQ(p.size(), 4u);
  for (size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(p[i], q[i], 2e-6) << "image " << i;
}

TEST(HeadFromClasses, BadRequestsAreClearErrors) {
  std::string weights = (test_dir() / "bad.npz").string();
  pretrained(weights);
  std::string names = (test_dir() / "dup_names.txt").string();
  {
    std::ofstream f(names);
    for (const std::string& n : kNames) f << (n == "dog" ? "cat" : n) << "\n";  // "cat" twice
  }
  expect_error([&] { build_model(head_config(weights, json::array({7})), 2); },
               {"model.head_from_classes lists 1 classes but the data has 2"});
  expect_error([&] { build_model(head_config(weights, json::array({7, 10})), 2); },
               {"class 10 is not in the weights' 10-class head"});
  expect_error([&] { build_model(head_config(weights, json::array({7, -1})), 2); }, {"class -1"});
  expect_error([&] { build_model(head_config(weights, json::array({7, 2.5})), 2); },
               {"2.5 is neither a class index nor a name"});
  expect_error([&] { build_model(head_config(weights, json::array({"horse", "bird"})), 2); },
               {"no list of the weights' class names", "model.class_names"});
  TrainConfig typo = head_config(weights, json::array({"hrose", "bird"}));
  typo.set("model.class_names", (test_dir() / "names_ok.txt").string(), "test");
  {
    std::ofstream f(test_dir() / "names_ok.txt");
    for (const std::string& n : kNames) f << n << "\n";
  }
  expect_error([&] { build_model(typo, 2); }, {"no class named 'hrose'", "did you mean 'horse'?"});
  TrainConfig dup = head_config(weights, json::array({"cat", "bird"}));
  dup.set("model.class_names", names, "test");
  expect_error([&] { build_model(dup, 2); }, {"'cat' names several classes ( 3 5 )", "give the index"});
  TrainConfig short_names = head_config(weights, json::array({"cat", "bird"}));
  {
    std::ofstream f(test_dir() / "names_short.txt");
    f << "cat\nbird\n";
  }
  short_names.set("model.class_names", (test_dir() / "names_short.txt").string(), "test");
  expect_error([&] { build_model(short_names, 2); }, {"2 class names for the weights' 10-class head"});
  TrainConfig missing = head_config(weights, json::array({"cat", "bird"}));
  missing.set("model.class_names", (test_dir() / "no_such_names.txt").string(), "test");
  expect_error([&] { build_model(missing, 2); }, {"cannot read class names from", "no_such_names.txt"});
  TrainConfig no_new_head = head_config(weights, json::array({7, 2}));
  no_new_head.set("model.new_head", false, "test");
  expect_error([&] { build_model(no_new_head, 10); }, {"model.head_from_classes", "model.new_head: true"});
  TrainConfig no_weights = head_config("", json::array({7, 2}));
  expect_error([&] { build_model(no_weights, 2); }, {"model.head_from_classes", "needs model.weights"});
  TrainConfig bce = head_config(weights, json::array({7, 2, 1}));
  bce.set("loss.name", "bce_with_logits", "test");
  expect_error([&] { build_model(bce, 1); }, {"lists 3 classes but the data has 2"});
}

}  // namespace
}  // namespace ember
