#include "tests/support/oracle.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

namespace ember::test {
namespace {

using json = nlohmann::json;

// The PyTorch process: started on first use, kept for the whole test binary.
class TorchProcess {
 public:
  static TorchProcess& instance() {
    static TorchProcess p;
    return p;
  }
  bool ok() const { return ok_; }
  const std::string& reason() const { return reason_; }

  // Sends one request (header + blobs) and returns the reply header, leaving
  // the reply's blobs to be read with read_bytes().
  json request(const json& header, const std::vector<std::string>& blobs) {
    std::string line = header.dump() + "\n";
    write_all(line.data(), line.size());
    for (const std::string& b : blobs) write_all(b.data(), b.size());
    std::fflush(to_);
    return json::parse(read_line());
  }

  void read_bytes(void* dst, size_t n) {
    if (n == 0) return;
    if (std::fread(dst, 1, n, from_) != n) throw Error("oracle: the PyTorch process closed its output");
  }

 private:
  TorchProcess() {
    const char* py = std::getenv("EMBER_PYTHON");
    std::string python = py ? py : "/usr/bin/python3";
    std::string script = std::string(EMBER_SOURCE_DIR) + "/tests/oracle/torch_oracle.py";
    int in_pipe[2], out_pipe[2];
    if (pipe(in_pipe) != 0 || pipe(out_pipe) != 0) {
      reason_ = "cannot create pipes for the PyTorch oracle";
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in_pipe[0], 0);
      dup2(out_pipe[1], 1);
      close(in_pipe[1]);
      close(out_pipe[0]);
      execl(python.c_str(), python.c_str(), script.c_str(), static_cast<char*>(nullptr));
      std::fprintf(stderr, "cannot run %s\n", python.c_str());
      _exit(127);
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    signal(SIGPIPE, SIG_IGN);
    to_ = fdopen(in_pipe[1], "wb");
    from_ = fdopen(out_pipe[0], "rb");
    try {
      json hello = json::parse(read_line());
      ok_ = hello.value("ready", false);
      torch_version_ = hello.value("torch", "");
    } catch (const std::exception& e) {
      reason_ = "PyTorch is not available to " + python + " (install python3-torch, or set EMBER_PYTHON): " +
                e.what();
    }
  }
  ~TorchProcess() {
    if (to_) std::fclose(to_);
    if (from_) std::fclose(from_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }

  std::string read_line() {
    std::string line;
    int c;
    while ((c = std::fgetc(from_)) != EOF && c != '\n') line.push_back(static_cast<char>(c));
    if (line.empty() && c == EOF) throw Error("oracle: the PyTorch process exited");
    return line;
  }
  void write_all(const void* p, size_t n) {
    if (n && std::fwrite(p, 1, n, to_) != n) throw Error("oracle: cannot write to the PyTorch process");
  }

  pid_t pid_ = -1;
  FILE* to_ = nullptr;
  FILE* from_ = nullptr;
  bool ok_ = false;
  std::string reason_;
  std::string torch_version_;
};

std::mt19937_64& rng() {
  static std::mt19937_64 r(20261123);
  return r;
}

bool require_oracle() {
  const char* v = std::getenv("EMBER_REQUIRE_ORACLE");
  return v && std::string(v) == "1";
}

// Wire format of an input tensor (see torch_oracle.py): float32/float64 as
// themselves, 16-bit floats as float32, integers as int64, bool as uint8.
std::pair<json, std::string> encode(const Tensor& t, bool requires_grad) {
  Tensor host = t.detach().cpu().contiguous();
  DType wire;
  switch (host.dtype()) {
    case DType::Float32: case DType::Float16: case DType::BFloat16: wire = DType::Float32; break;
    case DType::Float64: wire = DType::Float64; break;
    case DType::Bool: wire = DType::UInt8; break;
    default: wire = DType::Int64; break;
  }
  Tensor w = host.to(wire).contiguous();
  std::string bytes(static_cast<const char*>(w.data_ptr()), static_cast<size_t>(w.numel()) * w.element_size());
  return {json{{"shape", host.shape()}, {"dtype", dtype_name(host.dtype())}, {"requires_grad", requires_grad}},
          bytes};
}

// Replies carry float32 as float32, other floats as float64, integers as int64.
Tensor decode(TorchProcess& p, const json& meta) {
  Shape shape = meta["shape"].get<Shape>();
  DType wire = dtype_from_name(meta["wire"].get<std::string>());
  Tensor t = empty(shape, TensorOptions(wire));
  p.read_bytes(t.data_ptr(), static_cast<size_t>(t.numel()) * t.element_size());
  return t;
}

struct OracleReply {
  std::vector<Tensor> outputs, grads;
  std::vector<std::string> names;
};

OracleReply ask(const std::string& expr, const std::string& setup, const Inputs& inputs,
                const std::vector<bool>& requires_grad, const std::vector<Tensor>& grad_outputs) {
  TorchProcess& p = TorchProcess::instance();
  json header{{"expr", expr}, {"setup", setup}, {"inputs", json::array()}, {"grad_outputs", json::array()}};
  std::vector<std::string> blobs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto [meta, bytes] = encode(inputs[i], requires_grad[i]);
    header["inputs"].push_back(meta);
    blobs.push_back(std::move(bytes));
  }
  for (const Tensor& g : grad_outputs) {
    if (!g.defined()) {
      header["grad_outputs"].push_back(nullptr);
      continue;
    }
    auto [meta, bytes] = encode(g, false);
    header["grad_outputs"].push_back(meta);
    blobs.push_back(std::move(bytes));
  }
  json reply = p.request(header, blobs);
  if (reply.contains("error")) throw Error("PyTorch failed on `" + expr + "`: " + reply["error"].get<std::string>());
  OracleReply r;
  for (const json& m : reply["outputs"]) r.outputs.push_back(decode(p, m));
  for (const json& m : reply["grads"]) r.grads.push_back(m.is_null() ? Tensor() : decode(p, m));
  if (reply.contains("names")) r.names = reply["names"].get<std::vector<std::string>>();
  return r;
}

Tensor make_input(const InputSpec& s) {
  std::mt19937_64& r = rng();
  int64_t n = shape_numel(s.shape);
  switch (s.kind) {
    case InputSpec::Given: return s.given.detach().clone();
    case InputSpec::Integers: {
      std::uniform_int_distribution<int64_t> d(static_cast<int64_t>(s.low), static_cast<int64_t>(s.high) - 1);
      std::vector<int64_t> v(static_cast<size_t>(n));
      for (auto& x : v) x = d(r);
      return from_vector(v, s.shape).to(s.dtype);
    }
    case InputSpec::Boolean: {
      std::bernoulli_distribution d(0.5);
      std::vector<uint8_t> v(static_cast<size_t>(n));
      for (auto& x : v) x = d(r);
      return from_vector(v, s.shape).to(DType::Bool);
    }
    case InputSpec::Uniform: {
      std::uniform_real_distribution<double> d(s.low, s.high);
      std::vector<double> v(static_cast<size_t>(n));
      for (auto& x : v) x = d(r);
      return from_vector(v, s.shape).to(s.dtype);
    }
    case InputSpec::Normal:
    default: {
      std::normal_distribution<double> d(0.0, 1.0);
      std::vector<double> v(static_cast<size_t>(n));
      for (auto& x : v) x = d(r);
      return from_vector(v, s.shape).to(s.dtype);
    }
  }
}

Tensor random_like(const Tensor& t) {
  std::normal_distribution<double> d(0.0, 1.0);
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (auto& x : v) x = d(rng());
  return from_vector(v, t.shape()).to(t.device(), t.dtype());
}

void log_error(const std::string& expr, double fwd, double bwd) {
  const char* path = std::getenv("EMBER_ORACLE_LOG");
  if (!path) return;
  std::ofstream f(path, std::ios::app);
  f << ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() << '.'
    << ::testing::UnitTest::GetInstance()->current_test_info()->name() << '\t' << expr << '\t' << fwd << '\t' << bwd
    << '\n';
}

bool same_kind(DType a, DType b) {
  return (is_floating(a) && is_floating(b)) || (a == DType::Bool) == (b == DType::Bool);
}

}  // namespace

namespace in {
InputSpec randn(const Shape& shape, DType dtype) {
  InputSpec s;
  s.shape = shape;
  s.dtype = dtype;
  return s;
}
InputSpec uniform(const Shape& shape, double low, double high, DType dtype) {
  InputSpec s = randn(shape, dtype);
  s.kind = InputSpec::Uniform;
  s.low = low;
  s.high = high;
  return s;
}
InputSpec positive(const Shape& shape) { return uniform(shape, 0.5, 2.0); }
InputSpec integers(const Shape& shape, int64_t low, int64_t high, DType dtype) {
  InputSpec s = randn(shape, dtype);
  s.kind = InputSpec::Integers;
  s.low = static_cast<double>(low);
  s.high = static_cast<double>(high);
  s.requires_grad = false;
  return s;
}
InputSpec booleans(const Shape& shape) {
  InputSpec s = randn(shape, DType::Bool);
  s.kind = InputSpec::Boolean;
  s.requires_grad = false;
  return s;
}
InputSpec given(const Tensor& t, bool requires_grad) {
  InputSpec s;
  s.kind = InputSpec::Given;
  s.given = t;
  s.shape = t.shape();
  s.dtype = t.dtype();
  s.requires_grad = requires_grad && is_floating(t.dtype());
  return s;
}
InputSpec no_grad(InputSpec spec) {
  spec.requires_grad = false;
  return spec;
}

}  // namespace in

std::string oracle_skip_reason() {
  return "PyTorch oracle unavailable: " + TorchProcess::instance().reason();
}

bool oracle_available_or_skip() {
  if (TorchProcess::instance().ok()) return true;
  if (require_oracle()) {
    ADD_FAILURE() << "EMBER_REQUIRE_ORACLE=1 but " << oracle_skip_reason();
  }
  return false;
}

double relative_error(const Tensor& actual, const Tensor& expected) {
  std::vector<double> a = actual.to_vector<double>(), b = expected.to_vector<double>();
  if (a.size() != b.size()) return INFINITY;
  double max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) {
      if (std::isnan(a[i]) != std::isnan(b[i])) return INFINITY;
      continue;
    }
    if (std::isinf(a[i]) || std::isinf(b[i])) {
      if (a[i] != b[i]) return INFINITY;
      continue;
    }
    max_diff = std::max(max_diff, std::abs(a[i] - b[i]));
    max_ref = std::max(max_ref, std::abs(b[i]));
  }
  if (max_ref == 0) return max_diff;
  return max_diff / max_ref;
}

void check_op(const std::vector<InputSpec>& specs, const std::string& expr,
              const std::function<std::vector<Tensor>(const Inputs&)>& ember_fn, Tolerance tol,
              const std::string& setup) {
  if (!oracle_available_or_skip()) GTEST_SKIP() << oracle_skip_reason();
  Inputs inputs;
  std::vector<bool> grads_wanted;
  for (const InputSpec& s : specs) {
    Tensor t = make_input(s);
    bool rg = s.requires_grad && is_floating(t.dtype());
    if (rg) t.requires_grad_(true);
    inputs.push_back(t);
    grads_wanted.push_back(rg);
  }
  std::vector<Tensor> outputs = ember_fn(inputs);
  std::vector<Tensor> roots, grad_outputs;
  for (const Tensor& o : outputs) {
    if (o.requires_grad()) {
      Tensor g = random_like(o);
      roots.push_back(o);
      grad_outputs.push_back(g);
    } else {
      grad_outputs.push_back(Tensor());
    }
  }
  if (!roots.empty()) {
    std::vector<Tensor> root_grads;
    for (const Tensor& g : grad_outputs) {
      if (g.defined()) root_grads.push_back(g);
    }
    backward(roots, root_grads);
  }
  OracleReply ref = ask(expr, setup, inputs, grads_wanted, grad_outputs);
  ASSERT_EQ(ref.outputs.size(), outputs.size()) << "`" << expr << "`: PyTorch returned a different number of outputs";
  double worst_fwd = 0, worst_bwd = 0;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& mine = outputs[i];
    const Tensor& theirs = ref.outputs[i];
    ASSERT_EQ(mine.shape(), theirs.shape()) << "`" << expr << "` output " << i << " shape";
    ASSERT_TRUE(same_kind(mine.dtype(), theirs.dtype()))
        << "`" << expr << "` output " << i << ": ember " << dtype_name(mine.dtype()) << ", torch "
        << dtype_name(theirs.dtype());
    double err = relative_error(mine, theirs);
    if (!is_floating(mine.dtype())) err = err == 0 ? 0 : INFINITY;  // integers must match exactly
    worst_fwd = std::max(worst_fwd, err);
    EXPECT_LE(err, tol.forward) << "`" << expr << "` output " << i << " differs from PyTorch\nember: " << mine
                                << "\ntorch: " << theirs;
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!grads_wanted[i]) continue;
    Tensor mine = inputs[i].grad();
    const Tensor& theirs = i < ref.grads.size() ? ref.grads[i] : Tensor();
    if (!theirs.defined()) {
      EXPECT_FALSE(mine.defined() && relative_error(mine, zeros_like(mine)) > 0)
          << "`" << expr << "`: PyTorch gives no gradient for input " << i << " but Ember does";
      continue;
    }
    if (!mine.defined()) mine = zeros(theirs.shape(), TensorOptions(DType::Float64));
    ASSERT_EQ(mine.shape(), theirs.shape()) << "`" << expr << "` gradient " << i << " shape";
    double err = relative_error(mine, theirs);
    worst_bwd = std::max(worst_bwd, err);
    EXPECT_LE(err, tol.backward) << "`" << expr << "` gradient of input " << i << " differs from PyTorch\nember: "
                                 << mine << "\ntorch: " << theirs;
  }
  log_error(expr, worst_fwd, worst_bwd);
}

void check_op(const std::vector<InputSpec>& inputs, const std::string& expr,
              const std::function<Tensor(const Inputs&)>& ember_fn, Tolerance tol, const std::string& setup) {
  check_op(inputs, expr, [&](const Inputs& x) { return std::vector<Tensor>{ember_fn(x)}; }, tol, setup);
}

std::vector<Tensor> torch_eval(const std::string& expr, const Inputs& inputs, const std::string& setup) {
  std::vector<bool> no_grads(inputs.size(), false);
  return ask(expr, setup, inputs, no_grads, {}).outputs;
}

std::vector<std::pair<std::string, Tensor>> torch_eval_named(const std::string& expr, const Inputs& inputs,
                                                             const std::string& setup) {
  std::vector<bool> no_grads(inputs.size(), false);
  OracleReply r = ask(expr, setup, inputs, no_grads, {});
  EMBER_CHECK(r.names.size() == r.outputs.size(), "torch_eval_named", "`", expr, "` did not give a dict");
  std::vector<std::pair<std::string, Tensor>> out;
  for (size_t i = 0; i < r.names.size(); ++i) {
    out.emplace_back(r.names[i], r.outputs[i]);
  }
  return out;
}

Tensor leaf64(const Shape& shape, double low, double high) {
  std::uniform_real_distribution<double> d(low, high);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (auto& x : v) x = d(rng());
  return from_vector(v, shape).requires_grad_(true);
}

void gradcheck(const std::function<std::vector<Tensor>(const Inputs&)>& fn, const Inputs& inputs, double eps,
               double atol, double rtol) {
  for (const Tensor& t : inputs) {
    ASSERT_TRUE(!t.requires_grad() || (t.dtype() == DType::Float64 && t.is_contiguous()))
        << "gradcheck needs contiguous float64 inputs";
  }
  std::vector<Tensor> outs = fn(inputs);
  std::vector<Tensor> weights, roots;
  for (const Tensor& o : outs) {
    if (!o.requires_grad()) continue;
    roots.push_back(o);
    weights.push_back(random_like(o).to(DType::Float64));
  }
  ASSERT_FALSE(roots.empty()) << "gradcheck: no output requires grad";
  std::vector<Tensor> wrt;
  for (const Tensor& t : inputs) {
    if (t.requires_grad()) wrt.push_back(t);
  }
  std::vector<Tensor> analytic = ember::grad(roots, wrt, weights);
  auto objective = [&]() {
    NoGradGuard no_grad;
    std::vector<Tensor> o = fn(inputs);
    double total = 0;
    size_t k = 0;
    for (const Tensor& t : o) {
      if (!t.requires_grad() && !is_floating(t.dtype())) continue;
      if (k >= weights.size()) break;
      std::vector<double> a = t.to_vector<double>(), w = weights[k++].to_vector<double>();
      for (size_t i = 0; i < a.size(); ++i) total += a[i] * w[i];
    }
    return total;
  };
  for (size_t i = 0; i < wrt.size(); ++i) {
    double* p = wrt[i].data<double>();
    std::vector<double> ana = analytic[i].defined() ? analytic[i].to_vector<double>()
                                                    : std::vector<double>(static_cast<size_t>(wrt[i].numel()), 0.0);
    int failures = 0;
    for (int64_t j = 0; j < wrt[i].numel(); ++j) {
      double saved = p[j];
      p[j] = saved + eps;
      double plus = objective();
      p[j] = saved - eps;
      double minus = objective();
      p[j] = saved;
      double numeric = (plus - minus) / (2 * eps);
      double a = ana[static_cast<size_t>(j)];
      if (std::abs(numeric - a) > atol + rtol * std::abs(numeric) && failures++ < 5) {
        ADD_FAILURE() << "gradcheck: input " << i << " element " << j << ": analytic " << a << ", numeric "
                      << numeric;
      }
    }
  }
}

void gradcheck(const std::function<Tensor(const Inputs&)>& fn, const Inputs& inputs, double eps, double atol,
               double rtol) {
  gradcheck([&](const Inputs& x) { return std::vector<Tensor>{fn(x)}; }, inputs, eps, atol, rtol);
}

void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> fragments) {
  try {
    fn();
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const std::string& f : fragments) {
      EXPECT_NE(msg.find(f), std::string::npos) << "error message lacks \"" << f << "\": " << msg;
    }
    return;
  }
  ADD_FAILURE() << "expected an ember::Error, but nothing was thrown";
}

}  // namespace ember::test
