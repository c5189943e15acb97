// ember: the command-line program. Each subcommand lives in its own file
// (tools/ember/*_command.cpp); errors end in one line naming the problem.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>
#include <exception>
#include <sstream>

#include "engine/error.h"
#include "engine/threads.h"
#include "tools/ember/commands.h"
#include "tools/lib/edit_distance.h"

namespace {

// For each unknown "--flag" in CLI11's message, the closest flag of the
// subcommand that was used: "did you mean --epochs?".
void suggest_flags(CLI::App& app, const std::string& message) {
  CLI::App* scope = &app;
  for (CLI::App* sub : app.get_subcommands()) scope = sub;
  std::istringstream words(message);
  for (std::string w; words >> w;) {
    if (w.rfind("--", 0) != 0) continue;
    std::string word = w.substr(0, w.find('='));
    std::vector<std::string> flags;
    for (const CLI::Option* opt : scope->get_options()) {
      for (const std::string& name : opt->get_lnames()) flags.push_back("--" + name);
    }
    std::string best = ember::closest_name(word, flags, 3);
    if (!best.empty()) std::fprintf(stderr, "ember: %s is not an option; did you mean %s?\n", word.c_str(), best.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Ember: a deep-learning engine for CNNs (C++20, CUDA, Eigen)", "ember"};
  app.set_version_flag("--version", "ember 0.1.0");
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "CPU threads for kernels (default: all cores)")->check(CLI::NonNegativeNumber);
  app.parse_complete_callback([&] {
    if (threads > 0) ember::set_num_threads(threads);
  });
  ember::cli::add_demo_command(app);
  ember::cli::add_summary_command(app);
  ember::cli::add_train_command(app);
  ember::cli::add_eval_command(app);
  ember::cli::add_predict_command(app);
  ember::cli::add_run_command(app);
  ember::cli::add_augment_command(app);
  ember::cli::add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ExtrasError& e) {
    int code = app.exit(e);
    suggest_flags(app, e.what());
    return code;
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ember::Error& e) {
    std::fprintf(stderr, "ember: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ember: unexpected error: %s\n", e.what());
    return 1;
  }
  return 0;
}
