// Subcommand registration. Each add_*_command adds one subcommand to the app
// with its options and callback; main.cpp (instseg) and torch_main.cpp
// (instseg-torch) call them in command_list() order (no static registrars).
//
// Two executables: `instseg` links no LibTorch (loading it costs ~0.75 s of
// CPU per process, most of an `instseg eval`), parses the global options and
// runs --help, --version, eval and inspect itself; every LibTorch command it hands to
// `instseg-torch`, installed next to it, by exec'ing it with the same argv.
#pragma once
#include "instseg/core/log.h"

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace instseg::cli {

// The LibTorch half of the CLI, found next to `instseg` (build tree and install: both in bin/).
inline constexpr const char* kTorchExecutable = "instseg-torch";

// Options shared by every subcommand (set before the subcommand runs).
struct GlobalOptions {
  int threads = 0;             // 0 = from the machine
  std::string log_level = "info";
};
const GlobalOptions& global_options();
GlobalOptions& mutable_global_options();
// --version, --threads, --log-level, fallthrough, exactly one subcommand.
void add_global_options(CLI::App& app);
// "debug" / "info" / "warning" / "error" (CLI11 checked the name).
LogLevel log_level_of(const std::string& name);

struct CommandInfo {
  const char* name;
  const char* description;  // one line, for --help
  bool torch;               // runs in instseg-torch
};
// Every subcommand, in `instseg --help` order.
const std::vector<CommandInfo>& command_list();
// The entry named `name`; throws instseg::Error for an unknown name.
const CommandInfo& command_info(const std::string& name);

// instseg: the LibTorch command that argv runs (the first argument that is
// neither a global option of `app` nor such an option's value), or nullptr.
const CommandInfo* torch_command_in(const CLI::App& app, int argc, char** argv);
// Replaces this process with instseg-torch (next to this executable) run on
// argv; throws instseg::Error naming the command and the path when it cannot.
[[noreturn]] void exec_torch_command(const CommandInfo& command, char** argv);
// `info.name` in `instseg --help`'s list (its options are instseg-torch's);
// `argv` is main's, exec'd should CLI11 select the subcommand after all.
void add_forwarded_command(CLI::App& app, const CommandInfo& info, char** argv);

// `instseg inspect CKPT [--json]`: format, meta and every weight with shape and dtype.
// LibTorch-free.
void add_inspect_command(CLI::App& app);

// `instseg launch -n N -- <command>`: N local processes with torchrun's variables.
void add_launch_command(CLI::App& app);

// `instseg eval --ann GT.json --results DETS.json [--iou-type segm|bbox|both] [--json-out F]`:
// pycocotools-exact COCO evaluation of a results file. LibTorch-free.
void add_eval_command(CLI::App& app);

// `instseg forward --config C --checkpoint K --input IN.pt [--gt GT.pt] --out OUT.pt`:
// named intermediate tensors (and losses/gradients) for parity checks.
void add_forward_command(CLI::App& app);

// `instseg test CONFIG CKPT [--out results.json] [--show-dir DIR] [--cfg-options ...]`:
// mmdet's tools/test.py: inference over test_dataloader + COCO metrics of test_evaluator.
void add_test_command(CLI::App& app);

// `instseg predict CONFIG CKPT INPUT... [--out-dir DIR] [--score-thr T]`: overlays and
// a COCO results JSON for image files, directories and glob patterns.
void add_predict_command(CLI::App& app);

// `instseg bench CONFIG [CKPT] [--images DIR | --shape HxW] [--batch B] [--iters N] [--warmup W]
// [--device D] [--dtype fp32|bf16|fp16] [--json FILE]`: per-stage medians of the inference path.
void add_bench_command(CLI::App& app);

// `instseg publish IN OUT [--save-keys K...]`: a training checkpoint without its optimizer
// state (mmdet's publish_model.py), for shipping.
void add_publish_command(CLI::App& app);

// `instseg widen IN CONFIG OUT [--noise R] [--seed N]`: a trained SOLOv2 checkpoint in a
// wider model of CONFIG that computes the same function (models/widen.h).
void add_widen_command(CLI::App& app);

// `instseg train CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--device D] [--cfg-options ...]`:
// mmdet's tools/train.py (distributed when WORLD_SIZE > 1).
void add_train_command(CLI::App& app);

}  // namespace instseg::cli
