#include "layers/summary.h"

#include <cstdio>
#include <map>
#include <sstream>

#include "engine/autograd/grad_mode.h"

namespace ember {

std::string model_summary(Module& model, const Shape& input) {
  std::map<const Module*, std::string> names;
  for (auto& [name, m] : model.named_modules()) names[m.get()] = name.empty() ? "(model)" : name;
  struct Row {
    std::string layer, shape;
    int64_t params;
  };
  std::vector<Row> rows;
  bool was_training = model.is_training();
  model.eval();
  {
    NoGradGuard no_grad;
    ForwardObserverScope observe([&](const Module& m, const Tensor&, const Tensor& out) {
      if (!m.named_children().empty()) return;  // leaf layers only
      auto it = names.find(&m);
      std::string name = it == names.end() ? "?" : it->second;
      rows.push_back({name + " (" + m.type_name() + ")", shape_str(out.shape()), m.num_parameters()});
    });
    model(zeros(input, TensorOptions(DType::Float32, model.device())));
  }
  model.train(was_training);

  size_t width = 28;
  for (const Row& r : rows) width = std::max(width, r.layer.size() + 2);
  std::ostringstream s;
  auto line = [&](const std::string& a, const std::string& b, const std::string& c) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%-*s%-26s%12s\n", static_cast<int>(width), a.c_str(), b.c_str(), c.c_str());
    s << buf;
  };
  std::string rule(width + 38, '=');
  line("Layer (type)", "Output Shape", "Param #");
  s << rule << '\n';
  for (const Row& r : rows) line(r.layer, r.shape, std::to_string(r.params));
  s << rule << '\n';
  int64_t total = model.num_parameters(), trainable = model.num_parameters(true);
  s << "Total params: " << total << '\n';
  s << "Trainable params: " << trainable << '\n';
  s << "Non-trainable params: " << total - trainable << '\n';
  return s.str();
}

}  // namespace ember
