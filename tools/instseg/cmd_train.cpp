// `instseg train CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--device D] [--cfg-options k=v ...]`:
// mmdetection's tools/train.py. Builds the model (model), the training and
// validation data (train_dataloader, val_dataloader, val_evaluator), the
// optimizer and lr schedule (optim_wrapper, param_scheduler) and the loop
// (train_cfg, default_hooks, randomness) from the config and runs the engine's
// Trainer: logs in mmengine's format, epoch_N.pth checkpoints and
// last_checkpoint in the work_dir, COCO evaluation every val_interval epochs.
//
// Distributed data-parallel training when WORLD_SIZE > 1 (instseg launch or
// torchrun set the variables): one process per GPU (or CPU process with Gloo).
#include "commands.h"

#include "instseg/checkpoint/load_weights.h"
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/config/build_data.h"
#include "instseg/config/build_evaluation.h"
#include "instseg/config/build_engine.h"
#include "instseg/config/build_model.h"
#include "instseg/config/overrides.h"
#include "instseg/core/device.h"
#include "instseg/core/log.h"
#include "instseg/engine/distributed.h"
#include "instseg/engine/train_checkpoint.h"
#include "instseg/engine/trainer.h"
#include "instseg/engine/work_dir_lock.h"
#include "instseg/io/engine_adapters.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#include <filesystem>
#include <memory>
#include <random>

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

optional<std::string> string_or_null(const ConfigNode& cfg, const std::string& key) {
  if (!cfg.contains(key) || cfg.at(key).is_null()) return nullopt;
  if (!cfg.at(key).is_string()) fail("config: ", key, ": expected a path or None");
  return cfg.at(key).get<std::string>();
}

bool bool_or_false(const ConfigNode& cfg, const std::string& key) {
  if (!cfg.contains(key) || cfg.at(key).is_null()) return false;
  if (!cfg.at(key).is_boolean()) fail("config: ", key, ": expected true or false");
  return cfg.at(key).get<bool>();
}

// The seed stored in a training checkpoint (meta.seed), -1 when absent.
int64_t checkpoint_seed(const std::string& path) {
  PthFile f = read_pth(path);
  const PyValue* meta = f.root.is_dict() ? f.root.get("meta") : nullptr;
  const PyValue* seed = meta && meta->is_dict() ? meta->get("seed") : nullptr;
  return seed && seed->is_int() ? seed->as_int() : -1;
}

// mmengine's sync_random_seed: rank 0 draws, everyone uses its value.
int64_t random_seed_synced() {
  std::random_device rd;
  at::Tensor s = at::full({1}, static_cast<int64_t>(rd() & 0x7fffffff), at::kLong);
  if (dist::world_size() > 1) {
    std::vector<at::Tensor> v{s};
    dist::broadcast(v, 0);
    s = v[0];
  }
  return s.item<int64_t>();
}

c10::Device train_device(const std::string& name, const DistEnv& env) {
  c10::Device d = parse_device(name);
  // One GPU per process: LOCAL_RANK picks it (torchrun / instseg launch).
  if (d.is_cuda() && !d.has_index()) d = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
  if (d.is_cuda() && env.world_size > 1 && name == "auto")
    d = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
  return d;
}

void run_train(const TrainArgs& a, bool resume_given) {
  // ---- distributed environment
  const DistEnv env = dist_env_from_environment();
  const c10::Device device = train_device(a.device, env);
  if (env.world_size > 1) {
    set_log_rank(env.rank);
    dist::init(env, device.is_cuda() ? "auto" : "gloo");
  }

  // ---- config
  ConfigNode cfg = load_config_with_overrides(a.config, a.cfg_options);
  apply_cli_to_config(a, resume_given, &cfg);
  const std::string work_dir = cfg["work_dir"].get<std::string>();
  ModelSpec spec = model_spec_from(cfg);
  EngineSpec engine = engine_spec_from(cfg);
  DataloaderSpec train_dl = dataloader_spec_from(cfg, "train_dataloader");
  const bool want_val = engine.val_interval > 0 && cfg.contains("val_dataloader") && !cfg["val_dataloader"].is_null();
  DataloaderSpec val_dl;
  EvaluatorSpec val_ev;
  if (want_val) {
    val_dl = dataloader_spec_from(cfg, "val_dataloader");
    val_ev = evaluator_spec_from(cfg, "val_evaluator");
  } else {
    log_info("train: no validation (val_interval 0 or no val_dataloader)");
  }
  // One run per work_dir: taken before the config is written there (the
  // Trainer holds the same lock for the whole run).
  std::shared_ptr<WorkDirLock> lock;
  if (dist::is_main()) lock = WorkDirLock::acquire(work_dir);
  if (dist::is_main()) {
    fs::create_directories(work_dir);
    const std::string dumped = (fs::path(work_dir) / (fs::path(a.config).stem().string() + ".yaml")).string();
    save_config(cfg, dumped);
    log_info("train: config written to ", dumped);
  }

  // ---- resume / load_from (mmengine: resume=True continues load_from, or the work_dir's last_checkpoint)
  const bool resume = bool_or_false(cfg, "resume");
  const optional<std::string> load_from = string_or_null(cfg, "load_from");
  std::string resume_path;
  if (resume) {
    resume_path = load_from && !load_from->empty() ? *load_from : read_last_checkpoint(work_dir);
    if (resume_path.empty()) log_info("train: --resume: no last_checkpoint in ", work_dir, ", starting from scratch");
    else if (!fs::exists(resume_path)) fail("train: resume: checkpoint '", resume_path, "' does not exist");
  }

  // ---- seeds (randomness.seed, else the resumed run's seed, else a random one shared by all ranks)
  int64_t seed;
  if (engine.seed) seed = *engine.seed;
  else if (!resume_path.empty() && checkpoint_seed(resume_path) >= 0) seed = checkpoint_seed(resume_path);
  else seed = random_seed_synced();
  const int64_t rank_seed = engine.diff_rank_seed ? seed + dist::rank() : seed;
  torch::manual_seed(static_cast<uint64_t>(rank_seed));
  if (engine.deterministic) {
    at::globalContext().setDeterministicCuDNN(true);
    at::globalContext().setBenchmarkCuDNN(false);
    at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/true);
  }
  log_info("train: seed ", seed, (engine.deterministic ? ", deterministic" : ""), ", world size ",
           dist::world_size(), ", device ", device.str());

  // ---- model
  std::shared_ptr<DetectorImpl> model = build_model(spec);
  log_info("train: ", model_kind_name(spec.kind), " with ", count_parameters(*model), " parameters");
  if (load_from && !load_from->empty() && !resume) {
    // mmengine's load_from: non-strict, what does not fit is reported.
    LoadWeightsOptions lo;
    lo.strict = false;
    lo.target = str_cat("the ", model_kind_name(spec.kind), " model of ", a.config);
    load_weights(*model, *load_from, lo);
  }

  // ---- data
  const CollateOptions collate = collate_options_from(spec.preprocess);
  auto train_set = std::make_shared<const CocoDataset>(train_dl.dataset.coco);
  if (train_set->num_classes() != model->num_classes())
    fail("train: the model has ", model->num_classes(), " classes, the training set ", train_set->num_classes(),
         " (set metainfo.classes or the heads' num_classes)");
  model->set_class_names(train_set->class_names());
  LoaderOptions tlo = train_dl.loader_options(collate);
  tlo.seed = static_cast<uint64_t>(train_dl.seed >= 0 ? train_dl.seed : seed);
  tlo.rank = dist::rank();
  tlo.world_size = dist::world_size();
  LoaderBatchSource train_source(train_set, tlo);
  log_info("train: ", train_set->size(), " training images from ", train_dl.dataset.coco.ann_file, ", batch size ",
           tlo.batch_size, " x ", tlo.world_size, " process(es)");

  EvaluationSet val;
  if (want_val) {
    EvaluationSetOptions vo;
    vo.rank = dist::rank();
    vo.world_size = dist::world_size();
    vo.threads = global_options().threads;
    val = build_evaluation_set(val_dl, val_ev, collate, vo);
    log_info("train: validation on ", val.dataset->size(), " images every ", engine.val_interval, " epoch(s), GT ",
             val.gt_file);
  }

  // ---- optimizer, schedule, loop
  apply_auto_scale_lr(&engine, tlo.batch_size * tlo.world_size);
  if (engine.amp == AmpDtype::fp16 && device.is_cpu()) {
    if (engine.amp_dtype_explicit) fail("train: fp16 AMP needs CUDA; on the CPU use optim_wrapper.dtype=bfloat16");
    log_info("train: AMP on the CPU runs in bfloat16 (fp16 autocast needs CUDA)");
    engine.amp = AmpDtype::bf16;
  }
  TrainerOptions to;
  engine.apply_to(&to);
  to.work_dir = work_dir;
  to.device = device;
  to.seed = seed;
  to.resume = resume_path;
  // mmdet's checkpoint meta.dataset_meta (the training set's classes; the
  // palette when the config's metainfo gives one).
  to.dataset_classes = train_set->class_names();
  to.dataset_palette = train_dl.dataset.palette;
  BuiltOptimizer optimizer = build_optimizer(*model, engine.optimizer);
  Trainer trainer(model, std::move(optimizer), LrSchedule(engine.schedulers), to);
  trainer.set_train_data(&train_source);
  if (want_val) trainer.set_val(val.source.get(), val.evaluator.get());
  trainer.train();
  log_info("train: done: epoch ", trainer.epoch(), ", iteration ", trainer.iter(), "; checkpoints in ", work_dir);
  dist::shutdown();
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "Train a model from a config (mmdetection's tools/train.py)");
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
