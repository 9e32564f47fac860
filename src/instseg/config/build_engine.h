// mmengine / mmdetection training sections -> engine options (an explicit
// switch on every `type`):
//
//   optim_wrapper = dict(type='OptimWrapper' | 'AmpOptimWrapper',
//       optimizer=dict(type='SGD' | 'AdamW', lr, momentum, weight_decay, nesterov, betas, eps, ...),
//       clip_grad=dict(max_norm=35, norm_type=2),
//       paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1, decay_mult=1.0)},
//                          bias_lr_mult, bias_decay_mult, norm_decay_mult),
//       loss_scale='dynamic', dtype='float16' | 'bfloat16')            # AmpOptimWrapper only
//   param_scheduler = [dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
//                      dict(type='MultiStepLR', milestones=[8, 11], gamma=0.1, by_epoch=True, begin=0, end=12),
//                      dict(type='CosineAnnealingLR', T_max, eta_min | eta_min_ratio, ...), ConstantLR]
//   train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1, val_begin=1,
//                    max_consecutive_nonfinite=10)   # instseg's own key (trainer.h)
//   default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=True, max_keep_ckpts=3),
//                        logger=dict(type='LoggerHook', interval=50), timer=..., ...)
//   randomness = dict(seed=0, deterministic=False, diff_rank_seed=False)
//   auto_scale_lr = dict(enable=False, base_batch_size=16)
//   custom_hooks = [dict(type='PreciseBNHook', num_samples=8192, interval=1)]   # mmpretrain's hook;
//                  # other types (EMAHook, ...) have no instseg counterpart: one notice each, ignored
//
//   ConfigNode cfg = load_config_with_overrides(path, cfg_options);
//   EngineSpec e = engine_spec_from(cfg);
//   TrainerOptions to;  e.apply_to(&to);
//   Trainer t(model, build_optimizer(*model, e.optimizer), LrSchedule(e.schedulers), to);
//
// Unknown keys inside these sections are errors naming the dotted path;
// options instseg cannot honour (norm_type != 2, accumulative_counts > 1,
// IterBasedTrainLoop, ...) are errors too. A missing section takes mmengine's
// default (no clipping, no scheduler, ...), except optim_wrapper and
// train_cfg, which training needs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "instseg/config/config_reader.h"
#include "instseg/core/compat.h"
#include "instseg/engine/amp.h"
#include "instseg/engine/lr_schedule.h"
#include "instseg/engine/optimizer.h"
#include "instseg/engine/trainer.h"

namespace instseg {

struct EngineSpec {
  // optim_wrapper
  std::string optim_wrapper_type = "OptimWrapper";
  OptimizerOptions optimizer;
  optional<double> clip_max_norm;  // clip_grad.max_norm (norm_type 2)
  AmpDtype amp = AmpDtype::none;   // AmpOptimWrapper: dtype (float16 by default)
  bool amp_dtype_explicit = false; // dtype was written in the config
  // param_scheduler (in config order)
  std::vector<SchedulerSpec> schedulers;
  // train_cfg
  int64_t max_epochs = 12;
  int64_t val_interval = 1;
  int64_t val_begin = 1;
  int64_t max_consecutive_nonfinite = 10;  // instseg only: stop after K skipped non-finite steps (<= 0: never)
  // default_hooks
  int64_t checkpoint_interval = 1;  // CheckpointHook.interval
  bool checkpoint_by_epoch = true;  // CheckpointHook.by_epoch
  int max_keep_ckpts = -1;
  int64_t log_interval = 10;        // LoggerHook.interval (mmengine's default; mmdet sets 50)
  // randomness
  optional<int64_t> seed;           // None: a random seed (mmengine)
  bool deterministic = false;
  bool diff_rank_seed = false;
  // auto_scale_lr
  bool auto_scale_lr = false;
  int64_t base_batch_size = 16;
  // custom_hooks: PreciseBNHook (engine/precise_bn.h); 0 samples: no such hook
  int64_t precise_bn_num_samples = 0;
  int64_t precise_bn_interval = 1;

  // Copies the loop / hook / clipping / amp settings into `o` (work_dir,
  // device, seed and resume are the caller's).
  void apply_to(TrainerOptions* o) const;
};

// Reads optim_wrapper, param_scheduler, train_cfg, default_hooks,
// randomness, auto_scale_lr and custom_hooks of `root`.
EngineSpec engine_spec_from(const ConfigNode& root);

// The pieces (`r` is the section's dict), for tests and other builders.
void optim_wrapper_from(ConfigReader& r, EngineSpec* out);
OptimizerOptions optimizer_options_from(ConfigReader& r);
void paramwise_cfg_from(ConfigReader& r, OptimizerOptions* out);
SchedulerSpec scheduler_spec_from(ConfigReader& r);
// A list of scheduler dicts or one dict (mmengine accepts both); `path` names it.
std::vector<SchedulerSpec> param_scheduler_from(const ConfigNode& node, const std::string& path);
// The custom_hooks list (`path` names it): PreciseBNHook into `out`, a notice for every other type.
void custom_hooks_from(const ConfigNode& node, const std::string& path, EngineSpec* out);

// mmengine's auto_scale_lr: when enabled, optimizer.lr *= total_batch /
// base_batch_size (total_batch = world_size * batch_size per GPU); logs what
// it did. When disabled nothing changes.
void apply_auto_scale_lr(EngineSpec* spec, int64_t total_batch_size);

}  // namespace instseg
