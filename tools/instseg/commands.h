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

// `instseg inspect CKPT [--json]`: format, meta and every weight with shape and dtype.
void add_inspect_command(CLI::App& app);

// `instseg launch -n N -- <command>`: N local processes with torchrun's variables.
void add_launch_command(CLI::App& app);

// `instseg eval --ann GT.json --results DETS.json [--iou-type segm|bbox|both] [--json-out F]`:
// pycocotools-exact COCO evaluation of a results file.
void add_eval_command(CLI::App& app);

}  // namespace instseg::cli
