#include "tests/models/torchvision_check.h"

#include <cmath>

#include "engine/ember.h"
#include "layers/basic.h"
#include "layers/squeeze_excitation.h"
#include "models/registry.h"

namespace ember::test {
namespace {
// max |a - b| over max(max |b|, floor). A BN whose output reaches the loss only
// through further train-mode BNs (MobileNet's and EfficientNet's projection
// BNs) has a bias gradient that is zero up to rounding, and the next BN's
// running mean is zero the same way; comparing such noise relative to itself
// means nothing, so the floor is a small fraction of the model's largest value.
double error_with_floor(const Tensor& actual, const Tensor& expected, double floor) {
  std::vector<double> a = actual.to_vector<double>(), b = expected.to_vector<double>();
  if (a.size() != b.size()) return INFINITY;
  double max_diff = 0, max_ref = floor;
  for (size_t i = 0; i < a.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(a[i] - b[i]));
    max_ref = std::max(max_ref, std::abs(b[i]));
  }
  return std::isnan(max_diff) ? INFINITY : max_diff / max_ref;
}

double largest_magnitude(const std::vector<std::pair<std::string, Tensor>>& named, size_t begin, size_t end) {
  double m = 0;
  for (size_t i = begin; i < end; ++i)
    for (double v : named[i].second.to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

std::string py_string(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("\\'") : std::string(1, ch);
  return out + "'";
}
}  // namespace

void check_against_torchvision(const ModelCheck& c) {
  // The torchvision model is built once and kept in the oracle's cache; the
  // train-mode check works on a deep copy so the cached weights stay fresh.
  std::string key = c.torch_ctor;
  std::string setup = "import torchvision, copy\n" + c.torch_prelude + "\nif " + py_string(key) + " not in cache:\n    torch.manual_seed(0)\n    cache[" +
                      py_string(key) + "] = " + c.torch_ctor + "\nm = cache[" + py_string(key) + "]\n";
  const bool on_cuda = c.device.is_cuda();
  if (on_cuda) {
    setup += "dev = 'cuda' if torch.cuda.is_available() else 'cpu'\n"
             "torch.backends.cuda.matmul.allow_tf32 = False\ntorch.backends.cudnn.allow_tf32 = False\n";
  } else {
    setup += "dev = 'cpu'\n";
  }
  ModulePtr model = create_model(c.ember_name, c.num_classes);

  // Names, order, shapes, count: the state_dict must be torchvision's exactly.
  auto theirs = torch_eval_named("m.state_dict()", {}, setup);
  NamedTensors mine = model->state_dict();
  ASSERT_EQ(mine.size(), theirs.size()) << c.ember_name << ": state_dict sizes differ";
  for (size_t i = 0; i < mine.size(); ++i) {
    ASSERT_EQ(mine[i].first, theirs[i].first) << c.ember_name << " entry " << i;
    ASSERT_EQ(mine[i].second.shape(), theirs[i].second.shape()) << c.ember_name << " " << mine[i].first;
  }
  int64_t torch_params = torch_eval("sum(p.numel() for p in m.parameters())", {}, setup)[0].item<int64_t>();
  EXPECT_EQ(model->num_parameters(), torch_params) << c.ember_name;
  model->load_state_dict(theirs);

  // Eval-mode logits.
  manual_seed(1);
  Tensor x = randn(c.eval_input);
  model->eval();
  model->to(c.device);
  Tensor logits;
  {
    NoGradGuard no_grad;
    logits = (*model)(x.to(c.device)).cpu();
  }
  // On CUDA a copy goes to the GPU, so that the cached CPU model stays as it is.
  Tensor ref = torch_eval(on_cuda ? "copy.deepcopy(m).to(dev).eval()(a.to(dev))" : "m.eval()(a)", {x},
                          setup + "torch.set_grad_enabled(False)\n")[0];
  double err = relative_error(logits, ref);
  EXPECT_LE(err, c.eval_tol) << c.ember_name << " eval logits at " << shape_str(c.eval_input);
  std::printf("[ model ] %s eval %s%s: max rel err %.2e\n", c.ember_name.c_str(), shape_str(c.eval_input).c_str(),
              on_cuda ? " on CUDA" : "", err);

  if (c.train_input.empty()) return;
  // Train mode: logits, parameter gradients for one upstream gradient, running stats.
  model->to(kCPU);
  model->load_state_dict(theirs);
  model->to(c.train_dtype);
  model->to(c.device);
  model->train();
  model->apply([](Module& m) {
    if (auto* d = dynamic_cast<Dropout*>(&m)) d->p = 0.0;
    if (auto* s = dynamic_cast<StochasticDepth*>(&m)) s->p = 0.0;
  });
  Tensor xt = randn(c.train_input, c.train_dtype);
  Tensor out = (*model)(xt.to(c.device));
  Tensor g = randn(out.shape());
  out.backward(g.to(c.device));
  out = out.cpu();
  std::string train_setup = setup + "m = copy.deepcopy(m)" +
                            (c.train_dtype == DType::Float64 ? ".double()" : "") +
                            ".to(dev)\nm.train()\n"
                            "for mod in m.modules():\n"
                            "    if isinstance(mod, (torch.nn.Dropout, torchvision.ops.StochasticDepth)): mod.p = 0.0\n"
                            "out = m(a.to(dev))\nout.backward(b.to(dev))\n";
  auto result = torch_eval_named(
      "{'out': out, **{'grad.' + k: p.grad for k, p in m.named_parameters()}, "
      "**{'buf.' + k: b for k, b in m.named_buffers()}}",
      {xt, g}, train_setup);
  EXPECT_LE(relative_error(out, result[0].second), c.grad_tol) << c.ember_name << " train logits";
  const size_t n_params = model->named_parameters().size();
  const double grad_floor = 1e-6 * largest_magnitude(result, 1, 1 + n_params);
  const double buf_floor = 1e-6 * largest_magnitude(result, 1 + n_params, result.size());
  size_t k = 1;
  double worst_grad = 0, worst_buf = 0;
  std::string worst_name;
  for (auto& [name, p] : model->named_parameters()) {
    ASSERT_EQ(result[k].first, "grad." + name);
    double e = error_with_floor(p.grad().cpu(), result[k].second, grad_floor);
    if (e > worst_grad) {
      worst_grad = e;
      worst_name = name;
    }
    ++k;
  }
  for (auto& [name, b] : model->named_buffers()) {
    ASSERT_EQ(result[k].first, "buf." + name);
    worst_buf = std::max(worst_buf, error_with_floor(b.cpu(), result[k].second, buf_floor));
    ++k;
  }
  EXPECT_LE(worst_grad, c.grad_tol) << c.ember_name << " gradient of " << worst_name;
  EXPECT_LE(worst_buf, c.eval_tol) << c.ember_name << " running statistics";
  std::printf("[ model ] %s train %s %s%s: grads max rel err %.2e (%s), running stats %.2e\n", c.ember_name.c_str(),
              shape_str(c.train_input).c_str(), dtype_name(c.train_dtype), on_cuda ? " on CUDA" : "", worst_grad, worst_name.c_str(), worst_buf);
}

}  // namespace ember::test
