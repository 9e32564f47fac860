// Subcommand registration. Each add_*_command adds one subcommand to the app
// with its options and callback; main.cpp calls them in a fixed order (no
// static registrars).
#pragma once
#include <CLI/CLI.hpp>

namespace instseg::cli {

// Options shared by every subcommand (set before the subcommand runs).
struct GlobalOptions {
  int threads = 0;             // 0 = from the machine
  std::string log_level = "info";
};
const GlobalOptions& global_options();

}  // namespace instseg::cli
