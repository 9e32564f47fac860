// `instseg train CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--device D] [--cfg-options k=v ...]`:
// mmdetection's tools/train.py. Parses the command line, writes it into the
// config (as tools/train.py does, so the dumped config is what ran) and hands
// the config to the library's train_from_config (config/build_training.h),
// which builds and runs everything. Distributed when WORLD_SIZE > 1 (instseg
// launch or torchrun set the variables).
#include "commands.h"

#include "instseg/config/build_training.h"
#include "instseg/config/overrides.h"
#include "instseg/core/check.h"
#include "instseg/core/log.h"

#include <filesystem>
#include <memory>
#include <utility>

namespace instseg::cli {
namespace {
namespace fs = std::filesystem;

struct TrainArgs {
  std::string config, work_dir, device = "auto";
  std::vector<std::string> resume;  // [] with --resume: auto; [path]: that checkpoint
  std::vector<std::string> cfg_options;
  bool amp = false;
};

// mmdet's tools/train.py: the command line written into the config, so that
// the dumped config is what ran.
void apply_cli_to_config(const TrainArgs& a, bool resume_given, ConfigNode* cfg) {
  ConfigNode& c = *cfg;
  if (!a.work_dir.empty()) c["work_dir"] = a.work_dir;
  else if (!c.contains("work_dir") || c["work_dir"].is_null())
    c["work_dir"] = (fs::path("work_dirs") / fs::path(a.config).stem()).string();
  if (a.amp) {
    ConfigNode& ow = c["optim_wrapper"];
    if (ow.is_object() && ow.value("type", "") == "AmpOptimWrapper") {
      log_warning("train: --amp: AMP training is already enabled in the config");
    } else {
      if (!ow.is_object()) fail("config: no 'optim_wrapper' section");
      ow["type"] = "AmpOptimWrapper";
      ow["loss_scale"] = "dynamic";
    }
  }
  if (resume_given) {
    // A bare --resume arrives as no value or as one empty string (CLI11).
    const bool auto_resume = a.resume.empty() || a.resume.front().empty();
    c["resume"] = true;
    c["load_from"] = auto_resume ? ConfigNode() : ConfigNode(a.resume.front());
  }
}

void run_train(const TrainArgs& a, bool resume_given) {
  ConfigNode cfg = load_config_with_overrides(a.config, a.cfg_options);
  apply_cli_to_config(a, resume_given, &cfg);
  TrainRunOptions o;
  o.config_name = a.config;
  o.device = a.device;
  o.eval_threads = global_options().threads;
  train_from_config(std::move(cfg), o);
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", command_info("train").description);
  cmd->add_option("config", a->config, "config file (.yaml / .json; mmdetection schema)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--work-dir", a->work_dir,
                  "where logs, checkpoints and the resolved config go (default: work_dirs/<config name>)");
  auto* resume = cmd->add_option("--resume", a->resume,
                                 "continue training: from CKPT, or without a value from the work_dir's "
                                 "last_checkpoint")
                     ->expected(0, 1)
                     ->type_name("[CKPT]");
  cmd->add_flag("--amp", a->amp, "mixed precision (AmpOptimWrapper: fp16 on CUDA, bf16 on the CPU)");
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N (distributed: cuda = cuda:LOCAL_RANK)")
      ->capture_default_str();
  cmd->add_option("--cfg-options", a->cfg_options,
                  "override config keys: train_cfg.max_epochs=24 optim_wrapper.optimizer.lr=0.02")
      ->expected(0, -1);
  cmd->footer(
      "Relative data_root / ann_file / data_prefix paths are relative to the current directory (as in mmdet).\n"
      "Examples:\n"
      "  instseg train configs/solov2/solov2-light_r18_fpn_nuclei.yaml\n"
      "  instseg train configs/solov2/solov2_r50_fpn_1x_coco.yaml --work-dir work_dirs/solov2 --resume\n"
      "  instseg launch -n 8 -- train configs/queryinst/queryinst_r50_fpn_1x_coco.yaml --amp");
  cmd->callback([a, resume]() { run_train(*a, resume->count() > 0); });
}

}  // namespace instseg::cli
