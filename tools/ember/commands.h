// The ember subcommands; each file registers one on the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

namespace ember::cli {

void add_demo_command(CLI::App& app);

}  // namespace ember::cli
