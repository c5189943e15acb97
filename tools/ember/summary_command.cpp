// `ember summary --model NAME [--num-classes N] [--input CxHxW]`: the model's
// layers with output shapes and parameter counts (Keras-style), then the totals.
#include <cstdio>

#include "engine/error.h"
#include "layers/summary.h"
#include "models/registry.h"
#include "tools/ember/commands.h"
#include "tools/lib/cli_parse.h"

namespace ember::cli {

void add_summary_command(CLI::App& app) {
  struct Options {
    std::string model;
    int64_t num_classes = 1000;
    std::string input;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("summary", "Print a model's layers, output shapes and parameter counts");
  cmd->add_option("--model", o->model, "Model name (see `ember models`)")->required();
  cmd->add_option("--num-classes", o->num_classes, "Number of output classes")->capture_default_str();
  cmd->add_option("--input", o->input, "Input size CxHxW (default: 3 x the model's native size)");
  cmd->callback([o] {
    const ModelEntry& entry = model_entry(o->model);
    ModulePtr model = create_model(o->model, o->num_classes);
    Shape chw = o->input.empty() ? Shape{3, entry.default_size, entry.default_size} : parse_shape(o->input, "--input");
    EMBER_CHECK(chw.size() == 3, "summary", "--input must be CxHxW, got '", o->input, "'");
    std::printf("%s (%s, %lld classes), input %s\n\n", o->model.c_str(), entry.family.c_str(),
                static_cast<long long>(o->num_classes), shape_str(chw).c_str());
    std::fputs(model_summary(*model, {1, chw[0], chw[1], chw[2]}).c_str(), stdout);
  });
  app.add_subcommand("models", "List the model names create_model and --model accept")->callback([] {
    for (const ModelEntry& e : model_registry()) {
      std::printf("%-22s %-14s head: %-10s input %lld\n", e.name.c_str(), e.family.c_str(), e.head.c_str(),
                  static_cast<long long>(e.default_size));
    }
  });
}

}  // namespace ember::cli
