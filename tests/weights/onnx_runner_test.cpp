// The ONNX runner: torchvision CNNs exported by PyTorch at test time, run by
// Ember and compared with PyTorch's output (1e-4 relative); small hand-built
// graphs for the opset variants, checked against PyTorch; initializers of
// every storage form; `ember run`; and the errors that must name the node.
#define ONNX_ML 1               // what find_package(ONNX)'s onnx_proto target defines
#define ONNX_NAMESPACE onnx
#include <onnx/onnx_pb.h>

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/ember.h"
#include "tests/support/oracle.h"
#include "tests/weights/weights_test_util.h"
#include "weights/npy.h"
#include "weights/onnx_runner.h"
#include "weights/onnx_tensors.h"

namespace ember::test {
namespace {

using TP = onnx::TensorProto;

// --- Exported torchvision models ---

struct Exported {
  std::string name;
  double tolerance;
};

// name, constructor, opset, input shape, extra; one Python process exports all.
const char* kExportScript = R"(
import sys, numpy as np, torch, torchvision
torch.manual_seed(0)
class WithSoftmax(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m
    def forward(self, x):
        return torch.softmax(self.m(x), dim=1)
class TinyDense(torch.nn.Module):
    # What the big models use, small: concat, ceil-mode average pooling
    # without padding counted, reflection padding, SiLU, squeeze-excitation.
    def __init__(self):
        super().__init__()
        n = torch.nn
        self.stem = n.Sequential(n.Conv2d(3, 8, 3, 2, 1, bias=False), n.BatchNorm2d(8), n.SiLU())
        self.a = n.Conv2d(8, 8, 1)
        self.b = n.Sequential(n.ReflectionPad2d((1, 2, 2, 1)), n.Conv2d(8, 8, 4, groups=2))
        self.pool = n.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)
        self.se = n.Sequential(n.AdaptiveAvgPool2d(1), n.Conv2d(16, 4, 1), n.ReLU(), n.Conv2d(4, 16, 1), n.Sigmoid())
        self.head = n.Sequential(n.MaxPool2d(2, ceil_mode=True), n.Flatten(), n.Dropout(0.2), n.Linear(16 * 4 * 4, 10))
    def forward(self, x):
        x = self.stem(x)
        x = self.pool(torch.cat([self.a(x), self.b(x)], 1))
        return torch.softmax(self.head(x * self.se(x)), 1)
def randomize_bn(model):
    # Non-trivial running statistics, so that batch norm is really tested.
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.8, 1.2)
cases = [
    ('resnet18', lambda: torchvision.models.resnet18(), 13, (2, 3, 64, 64), {'x': {0: 'batch'}}),
    ('mobilenet_v2', lambda: torchvision.models.mobilenet_v2(), 9, (1, 3, 64, 64), None),
    ('mobilenet_v3_small', lambda: WithSoftmax(torchvision.models.mobilenet_v3_small()), 14, (1, 3, 64, 64), None),
    ('squeezenet1_1', lambda: WithSoftmax(torchvision.models.squeezenet1_1()), 11, (1, 3, 71, 71), None),
    ('tiny_dense_9', TinyDense, 9, (2, 3, 29, 29), None),
    ('tiny_dense_13', TinyDense, 13, (2, 3, 29, 29), None),
]
for name, make, opset, shape, dynamic in cases:
    model = make().eval()
    randomize_bn(model)
    x = torch.randn(*shape)
    with torch.no_grad():
        y = model(x)
    torch.onnx.export(model, x, name + '.onnx', opset_version=opset, input_names=['x'], output_names=['y'],
                      dynamic_axes=dynamic)
    np.save(name + '_x.npy', x.numpy())
    np.save(name + '_y.npy', y.numpy())
    if name == 'resnet18':  # also as a state_dict .npz, for `ember run --model`
        np.savez(name + '.npz', **{k: v.numpy() for k, v in model.state_dict().items()})
print('exported')
)";

class ExportedModels : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    if (!python_has("torch, torchvision, numpy")) return;
    PyResult r = run_python(kExportScript, dir_->path.string());
    exported_ = r.status == 0;
    log_ = r.output;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    EMBER_REQUIRE_PYTHON("torch, torchvision, numpy");
    ASSERT_TRUE(exported_) << "torch.onnx.export failed:\n" << log_;
  }
  static std::string file(const std::string& name) { return dir_->file(name); }
  static inline TempDir* dir_ = nullptr;
  static inline bool exported_ = false;
  static inline std::string log_;
};

TEST_F(ExportedModels, MatchPyTorch) {
  for (const char* name : {"resnet18", "mobilenet_v2", "mobilenet_v3_small", "squeezenet1_1", "tiny_dense_9",
                           "tiny_dense_13"}) {
    OnnxRunner runner(file(std::string(name) + ".onnx"));
    Tensor x = load_npy(file(std::string(name) + "_x.npy"));
    Tensor want = load_npy(file(std::string(name) + "_y.npy"));
    std::vector<Tensor> y = runner.run({x});
    ASSERT_EQ(y.size(), 1u) << name;
    ASSERT_EQ(y[0].shape(), want.shape()) << name;
    const double err = relative_error(y[0], want);
    EXPECT_LT(err, 1e-4) << name << " (opset " << runner.opset() << ")";
    std::printf("%-20s opset %2lld: relative error %.2e vs PyTorch\n", name, static_cast<long long>(runner.opset()), err);
  }
}

TEST_F(ExportedModels, DynamicBatchAndInputChecks) {
  OnnxRunner runner(file("resnet18.onnx"));
  ASSERT_EQ(runner.inputs().size(), 1u);
  EXPECT_EQ(runner.inputs()[0].name, "x");
  EXPECT_EQ(runner.inputs()[0].shape, (std::vector<int64_t>{-1, 3, 64, 64}));
  Tensor x = load_npy(file("resnet18_x.npy"));
  Tensor want = load_npy(file("resnet18_y.npy"));
  // Batch 1 through the dynamic batch dim equals the first row of batch 2.
  Tensor y1 = runner.run({x.narrow(0, 0, 1).contiguous()})[0];
  EXPECT_LT(relative_error(y1, want.narrow(0, 0, 1)), 1e-4);
  expect_error([&] { runner.run({x.to(DType::Float64)}); }, {"resnet18.onnx", "input 'x'", "float32", "float64"});
  expect_error([&] { runner.run({randn({1, 3, 32, 32})}); }, {"input 'x'", "shape", "[1, 3, 32, 32]"});
  expect_error([&] { runner.run({}); }, {"takes 1 input(s), got 0"});
  // Initializers carry the exporter's names (PyTorch's state_dict names).
  NamedTensors inits = load_onnx_initializers(file("resnet18.onnx"));
  bool found = false;
  for (const auto& [name, t] : inits) found |= name == "fc.weight" && t.shape() == Shape{1000, 512};
  EXPECT_TRUE(found) << "fc.weight [1000, 512] not among " << inits.size() << " initializers";
}

// `ember run` end to end: the program next to this test's build folder.
TEST_F(ExportedModels, EmberRunCommand) {
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path() / "ember";
  if (!std::filesystem::exists(exe)) GTEST_SKIP() << exe << " is not built";
  const std::string out = file("cli_y.npy");
  const std::string cmd = exe.string() + " run --weights " + file("resnet18.onnx") + " --input " +
                          file("resnet18_x.npy") + " --output " + out + " > " + file("cli.log") + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read_text(file("cli.log"));
  EXPECT_LT(relative_error(load_npy(out), load_npy(file("resnet18_y.npy"))), 1e-4);
  // Errors end in one line naming the problem, with a non-zero status.
  const std::string bad = exe.string() + " run --weights " + file("resnet18.onnx") + " --input " + file("nope.npy") +
                          " > " + file("cli2.log") + " 2>&1";
  EXPECT_NE(std::system(bad.c_str()), 0);
  EXPECT_NE(read_text(file("cli2.log")).find("nope.npy: no such file"), std::string::npos) << read_text(file("cli2.log"));
  // --model: Ember's resnet18 with the same weights as a state_dict .npz.
  const std::string out3 = file("cli_model_y.npy");
  const std::string model = exe.string() + " run --model resnet18 --weights " + file("resnet18.npz") + " --input " +
                            file("resnet18_x.npy") + " --output " + out3 + " > " + file("cli3.log") + " 2>&1";
  ASSERT_EQ(std::system(model.c_str()), 0) << read_text(file("cli3.log"));
  EXPECT_LT(relative_error(load_npy(out3), load_npy(file("resnet18_y.npy"))), 1e-4);
  // Weights for 1000 classes do not fit a 10-class head: the error names the tensor.
  const std::string wrong = exe.string() + " run --model resnet18 --num-classes 10 --weights " + file("resnet18.npz") +
                            " --input " + file("resnet18_x.npy") + " > " + file("cli4.log") + " 2>&1";
  EXPECT_NE(std::system(wrong.c_str()), 0);
  EXPECT_NE(read_text(file("cli4.log")).find("fc.weight"), std::string::npos) << read_text(file("cli4.log"));
}

// --- Hand-built graphs ---

class Graph {
 public:
  explicit Graph(int64_t opset) {
    m_.set_ir_version(7);
    auto* o = m_.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
  }
  void input(const std::string& name, int elem, const Shape& shape) { value(m_.mutable_graph()->add_input(), name, elem, shape); }
  void output(const std::string& name) { value(m_.mutable_graph()->add_output(), name, TP::FLOAT, {}, false); }
  onnx::NodeProto* node(const std::string& op, std::vector<std::string> ins, std::vector<std::string> outs) {
    auto* n = m_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(op + "_" + std::to_string(m_.graph().node_size()));
    for (auto& i : ins) n->add_input(i);
    for (auto& o : outs) n->add_output(o);
    return n;
  }
  TP* initializer(const std::string& name, int elem, const Shape& dims) {
    TP* t = m_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(elem);
    for (int64_t d : dims) t->add_dims(d);
    return t;
  }
  void ints(const std::string& name, const std::vector<int64_t>& v) {
    TP* t = initializer(name, TP::INT64, {static_cast<int64_t>(v.size())});
    for (int64_t x : v) t->add_int64_data(x);
  }
  std::string save(const std::string& path) const {
    std::ofstream f(path, std::ios::binary);
    m_.SerializeToOstream(&f);
    return path;
  }

 private:
  static void value(onnx::ValueInfoProto* v, const std::string& name, int elem, const Shape& shape, bool with_shape = true) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    if (with_shape) {
      auto* s = tt->mutable_shape();
      for (int64_t d : shape) s->add_dim()->set_dim_value(d);
    }
  }
  onnx::ModelProto m_;
};

void set_attr(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void set_attr(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void set_attr(onnx::NodeProto* n, const std::string& name, float v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
void set_attr(onnx::NodeProto* n, const std::string& name, const std::string& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

// Runs a one-input graph on x and compares with the PyTorch expression of `a`.
void check_graph(const Graph& g, const Tensor& x, const std::string& torch_expr, const std::string& what) {
  TempDir dir;
  OnnxRunner runner(g.save(dir.file("g.onnx")));
  Tensor y = runner.run({x})[0];
  Tensor want = torch_eval(torch_expr, {x})[0];
  ASSERT_EQ(y.shape(), want.shape()) << what;
  EXPECT_LT(relative_error(y.to(DType::Float64), want), 1e-6) << what;
}

TEST(OnnxGraphs, OpsetVariantsMatchPyTorch) {
  EMBER_REQUIRE_TORCH();
  Tensor x = randn({2, 3, 4, 5});
  for (int64_t opset : {11, 13}) {
    Graph g(opset);
    g.input("x", TP::FLOAT, {2, 3, 4, 5});
    set_attr(g.node("Softmax", {"x"}, {"y"}), "axis", int64_t{1});
    g.output("y");
    // Before opset 13 softmax normalises over all dims from `axis` on.
    check_graph(g, x, opset < 13 ? "torch.softmax(a.reshape(2, -1), 1).reshape(a.shape)" : "torch.softmax(a, 1)",
                "Softmax opset " + std::to_string(opset));
  }
  for (int64_t opset : {11, 13}) {
    Graph g(opset);
    g.input("x", TP::FLOAT, {2, 3, 4, 5});
    auto* u = g.node("Unsqueeze", opset < 13 ? std::vector<std::string>{"x"} : std::vector<std::string>{"x", "ua"}, {"u"});
    auto* s = g.node("Squeeze", opset < 13 ? std::vector<std::string>{"u"} : std::vector<std::string>{"u", "sa"}, {"y"});
    if (opset < 13) {
      set_attr(u, "axes", std::vector<int64_t>{0, -1});
      set_attr(s, "axes", std::vector<int64_t>{-1});
    } else {
      g.ints("ua", {0, -1});
      g.ints("sa", {-1});
    }
    g.output("y");
    check_graph(g, x, "a.unsqueeze(0)", "Unsqueeze/Squeeze opset " + std::to_string(opset));
  }
  for (int64_t opset : {6, 12}) {
    Graph g(opset);
    g.input("x", TP::FLOAT, {2, 3, 4, 5});
    auto* n = g.node("Clip", opset < 11 ? std::vector<std::string>{"x"} : std::vector<std::string>{"x", "lo", ""}, {"y"});
    if (opset < 11) {
      set_attr(n, "min", -0.5f);
    } else {
      TP* lo = g.initializer("lo", TP::FLOAT, {});
      lo->add_float_data(-0.5f);
    }
    g.output("y");
    check_graph(g, x, "a.clamp(min=-0.5)", "Clip opset " + std::to_string(opset));
  }
  for (const char* mode : {"reflect", "edge", "constant"}) {
    Graph g(13);
    g.input("x", TP::FLOAT, {2, 3, 4, 5});
    g.ints("pads", {0, 0, 2, 1, 0, 0, 1, 3});
    set_attr(g.node("Pad", {"x", "pads"}, {"y"}), "mode", std::string(mode));
    g.output("y");
    const std::string torch_mode = std::string(mode) == "edge" ? "replicate" : mode;
    check_graph(g, x, "torch.nn.functional.pad(a, (1, 3, 2, 1), mode='" + torch_mode + "')", std::string("Pad ") + mode);
  }
  {
    Graph g(13);
    g.input("x", TP::FLOAT, {2, 3, 4, 5});
    g.ints("idx", {-1, 0, 2, 3});
    set_attr(g.node("Gather", {"x", "idx"}, {"y"}), "axis", int64_t{-1});
    g.output("y");
    check_graph(g, x, "a[..., [4, 0, 2, 3]]", "Gather axis -1 with a negative index");
  }
  {
    Graph g(13);
    g.input("x", TP::FLOAT, {2, 3, 4, 5});
    auto* n = g.node("ReduceMean", {"x"}, {"y"});
    set_attr(n, "axes", std::vector<int64_t>{1, -1});
    set_attr(n, "keepdims", int64_t{0});
    g.output("y");
    check_graph(g, x, "a.mean(dim=(1, 3))", "ReduceMean");
  }
  {
    // Shape -> Gather -> Unsqueeze -> Concat -> Reshape: how old exporters flatten.
    Graph g(11);
    g.input("x", TP::FLOAT, {2, 3, 4, 5});
    g.node("Shape", {"x"}, {"s"});
    TP* zero = g.initializer("zero", TP::INT64, {});
    zero->add_int64_data(0);
    set_attr(g.node("Gather", {"s", "zero"}, {"n"}), "axis", int64_t{0});
    set_attr(g.node("Unsqueeze", {"n"}, {"n1"}), "axes", std::vector<int64_t>{0});
    g.ints("minus1", {-1});
    set_attr(g.node("Concat", {"n1", "minus1"}, {"shape"}), "axis", int64_t{0});
    g.node("Reshape", {"x", "shape"}, {"r"});
    auto* gemm = g.node("Gemm", {"r", "w", "b"}, {"y"});
    set_attr(gemm, "transB", int64_t{1});
    set_attr(gemm, "alpha", 0.5f);
    set_attr(gemm, "beta", 2.0f);
    TP* w = g.initializer("w", TP::FLOAT, {7, 60});
    for (int i = 0; i < 7 * 60; ++i) w->add_float_data(static_cast<float>((i % 13) - 6) / 13);
    TP* b = g.initializer("b", TP::FLOAT, {7});
    for (int i = 0; i < 7; ++i) b->add_float_data(static_cast<float>(i));
    g.output("y");
    check_graph(g, x,
                "0.5 * a.reshape(2, -1) @ ((torch.arange(420.) % 13 - 6) / 13).reshape(7, 60).to(a.dtype).T + 2 * torch.arange(7.).to(a.dtype)",
                "Shape/Gather/Concat/Reshape/Gemm");
  }
}

TEST(OnnxGraphs, InitializersInEveryStorageForm) {
  TempDir dir;
  Graph g(13);
  g.input("x", TP::FLOAT, {2});
  g.node("Identity", {"x"}, {"y"});
  g.output("y");
  TP* f = g.initializer("f_typed", TP::FLOAT, {2});
  f->add_float_data(1.5f);
  f->add_float_data(-2.f);
  float raw[3] = {0.25f, 8.f, -1.f};
  g.initializer("f_raw", TP::FLOAT, {3})->set_raw_data(std::string(reinterpret_cast<char*>(raw), sizeof raw));
  TP* d = g.initializer("d", TP::DOUBLE, {1});
  d->add_double_data(3.25);
  TP* i8 = g.initializer("i8", TP::INT8, {2});
  i8->add_int32_data(-7);
  i8->add_int32_data(100);
  TP* u64 = g.initializer("u64", TP::UINT64, {1});
  u64->add_uint64_data(uint64_t{1} << 40);
  TP* b = g.initializer("b", TP::BOOL, {2});
  b->add_int32_data(1);
  b->add_int32_data(0);
  TP* h = g.initializer("h", TP::FLOAT16, {1});
  h->add_int32_data(0x3C00);  // 1.0 in IEEE half
  int64_t raw64[2] = {-3, int64_t{1} << 50};
  g.initializer("i64_raw", TP::INT64, {2, 1})->set_raw_data(std::string(reinterpret_cast<char*>(raw64), sizeof raw64));
  g.initializer("empty", TP::FLOAT, {0, 4});
  const std::string path = g.save(dir.file("inits.onnx"));
  NamedTensors t = load_onnx_initializers(path);
  ASSERT_EQ(t.size(), 9u);
  EXPECT_EQ(t[0].first, "f_typed");
  EXPECT_EQ(t[0].second.to_vector<float>(), (std::vector<float>{1.5f, -2.f}));
  EXPECT_EQ(t[1].second.to_vector<float>(), (std::vector<float>{0.25f, 8.f, -1.f}));
  EXPECT_EQ(t[2].second.dtype(), DType::Float64);
  EXPECT_EQ(t[3].second.dtype(), DType::Int32);  // int8 widens
  EXPECT_EQ(t[3].second.to_vector<int32_t>(), (std::vector<int32_t>{-7, 100}));
  EXPECT_EQ(t[4].second.to_vector<int64_t>(), (std::vector<int64_t>{int64_t{1} << 40}));
  EXPECT_EQ(t[5].second.to_vector<bool>(), (std::vector<bool>{true, false}));
  EXPECT_EQ(t[6].second.dtype(), DType::Float16);
  EXPECT_EQ(t[6].second.item<float>(), 1.0f);
  EXPECT_EQ(t[7].second.shape(), (Shape{2, 1}));
  EXPECT_EQ(t[7].second.to_vector<int64_t>(), (std::vector<int64_t>{-3, int64_t{1} << 50}));
  EXPECT_EQ(t[8].second.shape(), (Shape{0, 4}));

  Graph bad(13);
  bad.input("x", TP::FLOAT, {2});
  bad.node("Identity", {"x"}, {"y"});
  bad.output("y");
  TP* ext = bad.initializer("conv.weight", TP::FLOAT, {2});
  ext->set_data_location(TP::EXTERNAL);
  auto* kv = ext->add_external_data();
  kv->set_key("location");
  kv->set_value("weights.bin");
  expect_error([&] { load_onnx_initializers(bad.save(dir.file("ext.onnx"))); },
               {"ext.onnx", "initializer 'conv.weight'", "external file (weights.bin)"});
  Graph short_data(13);
  short_data.input("x", TP::FLOAT, {2});
  short_data.node("Identity", {"x"}, {"y"});
  short_data.output("y");
  short_data.initializer("w", TP::FLOAT, {2, 2})->add_float_data(1.f);
  expect_error([&] { load_onnx_initializers(short_data.save(dir.file("short.onnx"))); },
               {"short.onnx", "initializer 'w'", "need 4 values, float_data has 1"});
}

TEST(OnnxGraphs, ErrorsNameTheNodeOpAndAttribute) {
  TempDir dir;
  auto one_node = [&](const std::string& op, const std::function<void(onnx::NodeProto*)>& attrs) {
    Graph g(13);
    g.input("x", TP::FLOAT, {1, 1, 4, 4});
    attrs(g.node(op, {"x"}, {"y"}));
    g.output("y");
    return g.save(dir.file(op + ".onnx"));
  };
  expect_error([&] { OnnxRunner r(one_node("Erf", [](onnx::NodeProto*) {})); },
               {"Erf.onnx", "node 'Erf_1' (Erf)", "op Erf is not supported"});
  const std::string pool = one_node("MaxPool", [](onnx::NodeProto* n) {
    set_attr(n, "kernel_shape", std::vector<int64_t>{2, 2});
    set_attr(n, "auto_pad", std::string("SAME_MIDDLE"));
  });
  expect_error([&] { OnnxRunner(pool).run({randn({1, 1, 4, 4})}); },
               {"MaxPool.onnx", "node 'MaxPool_1' (MaxPool, opset 13)", "attribute 'auto_pad' = 'SAME_MIDDLE' is not supported"});
  const std::string relu = one_node("Relu", [](onnx::NodeProto* n) { set_attr(n, "alpha", 0.1f); });
  expect_error([&] { OnnxRunner(relu).run({randn({1, 1, 4, 4})}); }, {"node 'Relu_1' (Relu", "attribute 'alpha' is not supported"});
  const std::string conv = one_node("Conv", [](onnx::NodeProto*) {});
  expect_error([&] { OnnxRunner(conv).run({randn({1, 1, 4, 4})}); }, {"node 'Conv_1' (Conv", "input 1 is required"});
  // An Ember op's own error gets the node's name in front.
  const std::string big_pool = one_node("AveragePool", [](onnx::NodeProto* n) { set_attr(n, "kernel_shape", std::vector<int64_t>{9, 9}); });
  expect_error([&] { OnnxRunner(big_pool).run({randn({1, 1, 4, 4})}); }, {"node 'AveragePool_1' (AveragePool", "larger than the padded input"});

  Graph dangling(13);
  dangling.input("x", TP::FLOAT, {2});
  dangling.node("Add", {"x", "nowhere"}, {"y"});
  dangling.output("y");
  expect_error([&] { OnnxRunner r(dangling.save(dir.file("d.onnx"))); }, {"d.onnx", "node 'Add_1' (Add)", "input 'nowhere' is not produced"});
  std::ofstream(dir.file("text.onnx")) << "this is not a model\n";
  expect_error([&] { OnnxRunner r(dir.file("text.onnx")); }, {"text.onnx", "not an ONNX model"});
  std::ofstream(dir.file("empty.onnx"));
  expect_error([&] { OnnxRunner r(dir.file("empty.onnx")); }, {"empty.onnx", "empty file"});
  expect_error([&] { OnnxRunner r(dir.file("missing.onnx")); }, {"missing.onnx", "no such file"});
}

// Inputs the ONNX fuzzer once found (kept as regression cases): each must be rejected cleanly.
TEST(OnnxGraphs, FuzzRegressionsAreRejected) {
  const std::filesystem::path dir = std::filesystem::path(EMBER_SOURCE_DIR) / "tests/weights/regressions";
  int n = 0;
  if (std::filesystem::is_directory(dir)) {
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (e.path().extension() != ".onnx") continue;
      ++n;
      try {
        OnnxRunner r(e.path().string());
        std::vector<Tensor> xs;
        for (const auto& in : r.inputs()) {
          Shape s;
          for (int64_t d : in.shape) s.push_back(d < 0 ? 1 : d);
          if (shape_numel(s) <= 4096) xs.push_back(zeros(s, in.dtype));
        }
        if (xs.size() == r.inputs().size()) r.run(xs);
      } catch (const Error&) {
      }
    }
  }
  std::printf("%d .onnx regression inputs handled without crashing\n", n);
}

}  // namespace
}  // namespace ember::test
