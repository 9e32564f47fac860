// mmdetection's tools/train.py after its argument parsing: the runner built
// from the config and trained (mmengine's Runner.from_cfg(cfg).train()). From
// the config: the model (model; the backbone's init_cfg, load_from), the
// training and validation data (train_dataloader, val_dataloader,
// val_evaluator), the optimizer and lr schedule (optim_wrapper,
// param_scheduler), the loop (train_cfg, default_hooks, randomness), resume,
// work_dir. Runs the engine's Trainer: logs in mmengine's format, epoch_N.pth
// checkpoints and last_checkpoint in the work_dir, COCO evaluation every
// val_interval epochs. Distributed data-parallel when WORLD_SIZE > 1 (instseg
// launch or torchrun set the variables): one process per GPU, or CPU
// processes with Gloo.
//
//   ConfigNode cfg = load_config_with_overrides("configs/x.yaml", {"train_cfg.max_epochs=12"});
//   TrainRunOptions o;  o.config_name = "configs/x.yaml";
//   train_from_config(cfg, o);
//
// `instseg train` writes its command line (--work-dir, --resume, --amp) into
// the config first, as tools/train.py does, so that the dumped config is what ran.
#pragma once
#include "instseg/config/config_tree.h"

#include <string>

namespace instseg {

struct TrainRunOptions {
  // The config file: names the copy written into the work_dir (<stem>.yaml),
  // the default work_dir (work_dirs/<stem>) and messages.
  std::string config_name = "config";
  // "auto", "cpu", "cuda", "cuda:N"; distributed: cuda = cuda:LOCAL_RANK.
  std::string device = "auto";
  int eval_threads = 0;  // COCOeval threads of the validation (0: every CPU)
};

void train_from_config(ConfigNode cfg, const TrainRunOptions& options);

}  // namespace instseg
