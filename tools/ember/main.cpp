// ember: the command-line program. Each subcommand lives in its own file
// (tools/ember/*_command.cpp); errors end in one line naming the problem.
#include <cstdio>
#include <exception>

#include "engine/error.h"
#include "engine/threads.h"
#include "tools/ember/commands.h"

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
  try {
    app.parse(argc, argv);
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
