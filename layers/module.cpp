#include "layers/module.h"

#include <map>
#include <sstream>

#include "engine/autograd/grad_mode.h"
#include "engine/error.h"

namespace ember {

std::string LoadReport::str() const {
  std::ostringstream s;
  if (ok()) return "all keys matched";
  auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    s << names.size() << ' ' << what << ':';
    for (size_t i = 0; i < names.size() && i < 20; ++i) s << "\n  " << names[i];
    if (names.size() > 20) s << "\n  ... and " << names.size() - 20 << " more";
    s << '\n';
  };
  list("missing (in the model, not in the weights)", missing);
  list("unexpected (in the weights, not in the model)", unexpected);
  list("with mismatched shapes", mismatched);
  std::string out = s.str();
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

namespace {
thread_local ForwardObserver* g_observer = nullptr;
}  // namespace

bool forward_observer_installed() { return g_observer != nullptr; }

ForwardObserverScope::ForwardObserverScope(ForwardObserver observer)
    : observer_(std::move(observer)), previous_(g_observer) {
  g_observer = &observer_;
}

ForwardObserverScope::~ForwardObserverScope() { g_observer = previous_; }

Tensor Module::operator()(const Tensor& x) {
  Tensor y = forward(x);
  if (g_observer) (*g_observer)(*this, x, y);
  return y;
}

namespace {
void check_name(const std::string& name, const std::string& owner) {
  EMBER_CHECK(!name.empty() && name.find('.') == std::string::npos, "Module",
              "invalid name '", name, "' in ", owner, " (names are non-empty and contain no '.')");
}
}  // namespace

Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  check_name(name, type_name_);
  for (auto& [n, _] : params_) EMBER_CHECK(n != name, "Module", type_name_, " already has a parameter '", name, "'");
  if (requires_grad) t.requires_grad_(true);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_name(name, type_name_);
  for (auto& [n, _] : buffers_) EMBER_CHECK(n != name, "Module", type_name_, " already has a buffer '", name, "'");
  buffers_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, ModulePtr m) {
  check_name(name, type_name_);
  EMBER_CHECK(m != nullptr, "Module", "child '", name, "' of ", type_name_, " is null");
  for (auto& [n, _] : children_) EMBER_CHECK(n != name, "Module", type_name_, " already has a child '", name, "'");
  children_.emplace_back(name, std::move(m));
}

void Module::collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out, bool recurse) const {
  if (params) {
    for (const auto& [n, t] : params_) out.emplace_back(prefix + n, t);
  }
  if (buffers) {
    for (const auto& [n, t] : buffers_) out.emplace_back(prefix + n, t);
  }
  if (!recurse) return;
  for (const auto& [n, child] : children_) child->collect(prefix + n + ".", params, buffers, out, true);
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  collect("", true, false, out, recurse);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  collect("", false, true, out, recurse);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [_, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, ModulePtr>> Module::named_modules() {
  std::vector<std::pair<std::string, ModulePtr>> out{{"", shared_from_this()}};
  for (auto& [n, child] : children_) {
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(sub.empty() ? n : n + "." + sub, m);
  }
  return out;
}

void Module::apply(const std::function<void(Module&)>& fn) {
  fn(*this);
  for (auto& [_, child] : children_) child->apply(fn);
}

ModulePtr Module::find(const std::string& path) {
  if (path.empty()) return shared_from_this();
  size_t dot = path.find('.');
  std::string head = path.substr(0, dot);
  for (auto& [n, child] : children_) {
    if (n == head) return dot == std::string::npos ? child : child->find(path.substr(dot + 1));
  }
  return nullptr;
}

ModulePtr Module::child(const std::string& name) const {
  for (const auto& [n, c] : children_) {
    if (n == name) return c;
  }
  fail("Module", type_name_, " has no child '", name, "'");
}

void Module::replace_child(const std::string& name, ModulePtr m) {
  EMBER_CHECK(m != nullptr, "Module", "replacement for '", name, "' is null");
  for (auto& [n, c] : children_) {
    if (n == name) {
      c = std::move(m);
      return;
    }
  }
  fail("Module", type_name_, " has no child '", name, "' to replace");
}

NamedTensors Module::state_dict() const {
  // PyTorch's order: a module's parameters, then its buffers, then its children.
  NamedTensors out;
  std::function<void(const Module&, const std::string&)> walk = [&](const Module& m, const std::string& prefix) {
    for (const auto& [n, t] : m.params_) out.emplace_back(prefix + n, t);
    for (const auto& [n, t] : m.buffers_) out.emplace_back(prefix + n, t);
    for (const auto& [n, c] : m.children_) walk(*c, prefix + n + ".");
  };
  walk(*this, "");
  return out;
}

LoadReport Module::load_state_dict(const NamedTensors& state, bool strict) {
  LoadReport report;
  std::map<std::string, const Tensor*> given;
  for (const auto& [n, t] : state) given[n] = &t;
  NamedTensors mine = state_dict();
  std::map<std::string, bool> known;
  std::vector<std::pair<Tensor, const Tensor*>> to_copy;
  for (const auto& [n, t] : mine) {
    known[n] = true;
    auto it = given.find(n);
    if (it == given.end()) {
      report.missing.push_back(n);
      continue;
    }
    const Tensor& src = *it->second;
    if (src.shape() != t.shape()) {
      report.mismatched.push_back(cat_str(n, ": model ", t.shape(), " vs weights ", src.shape()));
      continue;
    }
    to_copy.emplace_back(t, &src);
  }
  for (const auto& [n, _] : state) {
    if (!known.count(n)) report.unexpected.push_back(n);
  }
  if (strict && !report.ok()) fail("load_state_dict", "the weights do not fit ", type_name_, ":\n", report.str());
  NoGradGuard no_grad;
  for (auto& [dst, src] : to_copy) {
    Tensor d = dst;
    d.copy_(*src);
  }
  return report;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [_, child] : children_) child->train(on);
}

void Module::to(Device device) {
  NoGradGuard no_grad;
  for (auto& [_, t] : state_dict()) {
    if (t.device() != device) t.set_data(t.detach().to(device));
  }
}

void Module::to(DType dtype) {
  EMBER_CHECK(is_floating(dtype), "Module::to", "modules convert to floating types only, got ", dtype_name(dtype));
  NoGradGuard no_grad;
  for (auto& [_, t] : state_dict()) {
    if (is_floating(t.dtype()) && t.dtype() != dtype) t.set_data(t.detach().to(dtype));
  }
}

void Module::to(MemoryFormat format) {
  EMBER_CHECK(format != MemoryFormat::Preserve, "Module::to", "needs a layout (contiguous or channels_last)");
  NoGradGuard no_grad;
  for (auto& [_, t] : state_dict()) {
    if (t.dim() == 4 && !t.is_contiguous(format)) t.set_data(t.detach().contiguous(format));
  }
}

Device Module::device() const {
  NamedTensors s = state_dict();
  return s.empty() ? kCPU : s.front().second.device();
}

void Module::requires_grad_(bool on) {
  for (auto& [_, p] : named_parameters()) p.requires_grad_(on);
}

void Module::zero_grad() {
  for (auto& [_, p] : named_parameters()) p.zero_grad();
}

int64_t Module::num_parameters(bool trainable_only) const {
  int64_t n = 0;
  for (const auto& [_, p] : named_parameters()) {
    if (!trainable_only || p.requires_grad()) n += p.numel();
  }
  return n;
}

std::string Module::repr() const {
  std::string extra = extra_repr();
  if (children_.empty()) return type_name_ + "(" + extra + ")";
  std::ostringstream s;
  s << type_name_ << "(";
  if (!extra.empty()) s << "\n  " << extra;
  for (const auto& [n, child] : children_) {
    std::string sub = child->repr();
    // Indent the child's lines by two spaces.
    std::string indented;
    for (char c : sub) {
      indented += c;
      if (c == '\n') indented += "  ";
    }
    s << "\n  (" << n << "): " << indented;
  }
  s << "\n)";
  return s.str();
}

bool name_has_prefix(const std::string& name, const std::string& prefix) {
  if (prefix.empty()) return true;
  if (name.size() < prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return false;
  return name.size() == prefix.size() || name[prefix.size()] == '.';
}

int64_t set_requires_grad(Module& model, const std::vector<std::string>& prefixes, bool on) {
  int64_t changed = 0;
  std::vector<bool> used(prefixes.size(), false);
  for (auto& [name, p] : model.named_parameters()) {
    bool hit = prefixes.empty();
    for (size_t i = 0; i < prefixes.size(); ++i) {
      if (name_has_prefix(name, prefixes[i])) {
        hit = true;
        used[i] = true;
      }
    }
    if (hit && p.requires_grad() != on) {
      p.requires_grad_(on);
      ++changed;
    }
  }
  for (size_t i = 0; i < prefixes.size(); ++i) {
    EMBER_CHECK(used[i], on ? "unfreeze" : "freeze", "no parameter name starts with '", prefixes[i], "' in ",
                model.type_name());
  }
  return changed;
}

}  // namespace ember
