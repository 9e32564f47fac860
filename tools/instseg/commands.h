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

// `instseg forward --config C --checkpoint K --input IN.pt [--gt GT.pt] --out OUT.pt`:
// named intermediate tensors (and losses/gradients) for parity checks.
void add_forward_command(CLI::App& app);

// `instseg test CONFIG CKPT [--out results.json] [--show-dir DIR] [--cfg-options ...]`:
// mmdet's tools/test.py: inference over test_dataloader + COCO metrics of test_evaluator.
void add_test_command(CLI::App& app);

// `instseg predict CONFIG CKPT INPUT... [--out-dir DIR] [--score-thr T]`: overlays and
// a COCO results JSON for image files, directories and glob patterns.
void add_predict_command(CLI::App& app);

// `instseg train CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--device D] [--cfg-options ...]`:
// mmdet's tools/train.py (distributed when WORLD_SIZE > 1).
void add_train_command(CLI::App& app);

}  // namespace instseg::cli
