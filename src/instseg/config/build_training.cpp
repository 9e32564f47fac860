#include "instseg/config/build_training.h"

#include "instseg/checkpoint/load_weights.h"
#include "instseg/checkpoint/model_zoo.h"
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/config/build_data.h"
#include "instseg/config/build_engine.h"
#include "instseg/config/build_evaluation.h"
#include "instseg/config/build_model.h"
#include "instseg/core/device.h"
#include "instseg/core/log.h"
#include "instseg/engine/distributed.h"
#include "instseg/engine/precise_bn.h"
#include "instseg/engine/train_checkpoint.h"
#include "instseg/engine/trainer.h"
#include "instseg/engine/work_dir_lock.h"
#include "instseg/io/engine_adapters.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <torch/utils.h>

#include <filesystem>
#include <memory>
#include <random>

namespace instseg {
namespace {
namespace fs = std::filesystem;

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

}  // namespace

void train_from_config(ConfigNode cfg, const TrainRunOptions& o) {
  // ---- distributed environment
  const DistEnv env = dist_env_from_environment();
  const c10::Device device = train_device(o.device, env);
  if (env.world_size > 1) {
    set_log_rank(env.rank);
    dist::init(env, device.is_cuda() ? "auto" : "gloo");
  }

  // ---- config
  if (!cfg.contains("work_dir") || cfg["work_dir"].is_null())
    cfg["work_dir"] = (fs::path("work_dirs") / fs::path(o.config_name).stem()).string();
  if (!cfg["work_dir"].is_string()) fail("config: work_dir: expected a path");
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
    const std::string dumped = (fs::path(work_dir) / (fs::path(o.config_name).stem().string() + ".yaml")).string();
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
    else if (std::error_code ec; !fs::exists(resume_path, ec)) fail("train: resume: checkpoint '", resume_path, "' does not exist");
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
  // mmengine's order: init_weights (the backbone's Pretrained init_cfg), then
  // load_from overwrites what it has. Resuming restores every weight, so the
  // pretrained file is not needed then.
  if (resume_path.empty()) init_pretrained_weights(*model, spec);
  else if (backbone_spec(spec).pretrained.enabled())
    log_info("train: resuming: the backbone's init_cfg (", backbone_spec(spec).pretrained.checkpoint,
             ") is not loaded");
  if (load_from && !load_from->empty() && !resume) {
    // mmengine's load_from: non-strict, what does not fit is reported (another
    // class count: the classifier's keys). A URL or zoo name is read from the
    // hub cache (checkpoint/model_zoo.h).
    LoadWeightsOptions lo;
    lo.strict = false;
    lo.target = str_cat("the ", model_kind_name(spec.kind), " model of ", o.config_name);
    load_weights(*model, locate_checkpoint(*load_from), lo);
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
    vo.threads = o.eval_threads;
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
  if (engine.precise_bn_num_samples > 0) {
    trainer.add_hook(std::make_shared<PreciseBnHook>(engine.precise_bn_num_samples, engine.precise_bn_interval,
                                                     tlo.batch_size));
    log_info("train: PreciseBNHook: BatchNorm statistics from ", engine.precise_bn_num_samples,
             " training images after every ", engine.precise_bn_interval, " epoch(s)");
  }
  if (want_val) trainer.set_val(val.source.get(), val.evaluator.get());
  trainer.train();
  log_info("train: done: epoch ", trainer.epoch(), ", iteration ", trainer.iter(), "; checkpoints in ", work_dir);
  dist::shutdown();
}

}  // namespace instseg
