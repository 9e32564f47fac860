#include "instseg/config/build_engine.h"

#include <gtest/gtest.h>

#include "config/config_test_util.h"

#include <cmath>

#include "instseg/config/overrides.h"

namespace instseg {
namespace {

using test::error_of;

using test::Y;

// SOLOv2 1x as mmengine dumps it (schedule_1x + default_runtime + SOLOv2's optimizer).
const char* kSolo = R"(
optim_wrapper:
  type: OptimWrapper
  optimizer: {type: SGD, lr: 0.01, momentum: 0.9, weight_decay: 0.0001}
  clip_grad: {max_norm: 35, norm_type: 2}
param_scheduler:
  - {type: LinearLR, start_factor: 0.001, by_epoch: false, begin: 0, end: 500}
  - {type: MultiStepLR, begin: 0, end: 12, by_epoch: true, milestones: [8, 11], gamma: 0.1}
train_cfg: {type: EpochBasedTrainLoop, max_epochs: 12, val_interval: 1}
default_hooks:
  timer: {type: IterTimerHook}
  logger: {type: LoggerHook, interval: 50}
  param_scheduler: {type: ParamSchedulerHook}
  checkpoint: {type: CheckpointHook, interval: 1}
  sampler_seed: {type: DistSamplerSeedHook}
  visualization: {type: DetVisualizationHook}
auto_scale_lr: {enable: false, base_batch_size: 16}
)";

// QueryInst 1x's sections that differ.
const char* kQueryInst = R"(
optim_wrapper:
  type: OptimWrapper
  optimizer: {type: AdamW, lr: 0.0001, weight_decay: 0.0001}
  paramwise_cfg:
    custom_keys:
      backbone: {lr_mult: 0.1, decay_mult: 1.0}
  clip_grad: {max_norm: 0.1, norm_type: 2}
param_scheduler:
  - {type: LinearLR, start_factor: 0.001, by_epoch: false, begin: 0, end: 1000}
  - {type: MultiStepLR, begin: 0, end: 12, by_epoch: true, milestones: [8, 11], gamma: 0.1}
train_cfg: {type: EpochBasedTrainLoop, max_epochs: 12, val_interval: 1}
randomness: {seed: 42, deterministic: true, diff_rank_seed: true}
)";

TEST(BuildEngine, Solov2Sections) {
  EngineSpec e = engine_spec_from(Y(kSolo));
  EXPECT_EQ(e.optim_wrapper_type, "OptimWrapper");
  EXPECT_EQ(e.optimizer.type, "SGD");
  EXPECT_DOUBLE_EQ(e.optimizer.lr, 0.01);
  EXPECT_DOUBLE_EQ(e.optimizer.momentum, 0.9);
  EXPECT_DOUBLE_EQ(e.optimizer.weight_decay, 1e-4);
  EXPECT_FALSE(e.optimizer.nesterov);
  EXPECT_TRUE(e.optimizer.custom_keys.empty());
  ASSERT_TRUE(e.clip_max_norm.has_value());
  EXPECT_DOUBLE_EQ(*e.clip_max_norm, 35.0);
  EXPECT_EQ(e.amp, AmpDtype::none);
  ASSERT_EQ(e.schedulers.size(), 2u);
  const SchedulerSpec& w = e.schedulers[0];
  EXPECT_EQ(w.type, SchedulerSpec::Type::linear);
  EXPECT_FALSE(w.by_epoch);
  EXPECT_EQ(w.begin, 0);
  EXPECT_EQ(w.end, 500);
  EXPECT_DOUBLE_EQ(w.start_factor, 0.001);
  EXPECT_DOUBLE_EQ(w.end_factor, 1.0);
  const SchedulerSpec& m = e.schedulers[1];
  EXPECT_EQ(m.type, SchedulerSpec::Type::multistep);
  EXPECT_TRUE(m.by_epoch);
  EXPECT_EQ(m.end, 12);
  EXPECT_EQ(m.milestones, (std::vector<int64_t>{8, 11}));
  EXPECT_DOUBLE_EQ(m.gamma, 0.1);
  EXPECT_EQ(e.max_epochs, 12);
  EXPECT_EQ(e.val_interval, 1);
  EXPECT_EQ(e.checkpoint_interval, 1);
  EXPECT_TRUE(e.checkpoint_by_epoch);
  EXPECT_EQ(e.max_keep_ckpts, -1);
  EXPECT_EQ(e.log_interval, 50);
  EXPECT_FALSE(e.seed.has_value());
  EXPECT_FALSE(e.auto_scale_lr);

  // The lr these give (mmengine's chained LinearLR + MultiStepLR):
  // iteration 0: 0.01 * 0.001; iteration 250 of 500: 0.001 + 0.999 * 250 / 499.
  LrSchedule s(e.schedulers, 100);
  EXPECT_NEAR(s.lr(0.01, 0, 0), 1e-5, 1e-15);
  EXPECT_NEAR(s.lr(0.01, 250, 2), 0.01 * (0.001 + 0.999 * 250.0 / 499.0), 1e-15);
  EXPECT_NEAR(s.lr(0.01, 600, 7), 0.01, 1e-15);
  EXPECT_NEAR(s.lr(0.01, 900, 8), 0.001, 1e-15);
  EXPECT_NEAR(s.lr(0.01, 1200, 11), 0.0001, 1e-15);

  TrainerOptions to;
  e.apply_to(&to);
  EXPECT_EQ(to.max_epochs, 12);
  EXPECT_EQ(to.checkpoint_interval, 1);
  EXPECT_EQ(to.checkpoint_interval_iters, 0);
  EXPECT_EQ(to.log_interval, 50);
  ASSERT_TRUE(to.clip_max_norm.has_value());
  EXPECT_DOUBLE_EQ(*to.clip_max_norm, 35.0);
  EXPECT_EQ(to.amp, AmpDtype::none);
}

TEST(BuildEngine, QueryInstSections) {
  EngineSpec e = engine_spec_from(Y(kQueryInst));
  EXPECT_EQ(e.optimizer.type, "AdamW");
  EXPECT_DOUBLE_EQ(e.optimizer.lr, 1e-4);
  EXPECT_DOUBLE_EQ(e.optimizer.weight_decay, 1e-4);
  EXPECT_DOUBLE_EQ(e.optimizer.beta1, 0.9);
  EXPECT_DOUBLE_EQ(e.optimizer.beta2, 0.999);
  EXPECT_DOUBLE_EQ(e.optimizer.eps, 1e-8);
  ASSERT_EQ(e.optimizer.custom_keys.size(), 1u);
  EXPECT_EQ(e.optimizer.custom_keys[0].key, "backbone");
  EXPECT_DOUBLE_EQ(e.optimizer.custom_keys[0].lr_mult, 0.1);
  ASSERT_TRUE(e.optimizer.custom_keys[0].decay_mult.has_value());
  EXPECT_DOUBLE_EQ(*e.optimizer.custom_keys[0].decay_mult, 1.0);
  EXPECT_DOUBLE_EQ(*e.clip_max_norm, 0.1);
  EXPECT_EQ(e.schedulers[0].end, 1000);
  ASSERT_TRUE(e.seed.has_value());
  EXPECT_EQ(*e.seed, 42);
  EXPECT_TRUE(e.deterministic);
  EXPECT_TRUE(e.diff_rank_seed);
  // No default_hooks: mmengine's runner defaults (LoggerHook interval 10, CheckpointHook interval 1).
  EXPECT_EQ(e.log_interval, 10);
  EXPECT_EQ(e.checkpoint_interval, 1);
  TrainerOptions to;
  e.apply_to(&to);
  EXPECT_EQ(to.seed, 42);
}

TEST(BuildEngine, OptimizerDefaultsAndOptions) {
  ConfigNode c = Y(kSolo);
  c["optim_wrapper"]["optimizer"] = Y("{type: AdamW, betas: [0.8, 0.99], eps: 1.0e-6, amsgrad: true}");
  EngineSpec e = engine_spec_from(c);
  EXPECT_DOUBLE_EQ(e.optimizer.lr, 1e-3);            // torch.optim.AdamW's defaults
  EXPECT_DOUBLE_EQ(e.optimizer.weight_decay, 1e-2);
  EXPECT_DOUBLE_EQ(e.optimizer.beta1, 0.8);
  EXPECT_DOUBLE_EQ(e.optimizer.beta2, 0.99);
  EXPECT_DOUBLE_EQ(e.optimizer.eps, 1e-6);
  EXPECT_TRUE(e.optimizer.amsgrad);

  c["optim_wrapper"]["optimizer"] = Y("{type: SGD, lr: 0.02, momentum: 0.9, nesterov: true}");
  c["optim_wrapper"]["paramwise_cfg"] = Y("{norm_decay_mult: 0.0, bias_decay_mult: 0.0, bias_lr_mult: 2.0}");
  e = engine_spec_from(c);
  EXPECT_DOUBLE_EQ(e.optimizer.lr, 0.02);
  EXPECT_DOUBLE_EQ(e.optimizer.weight_decay, 0.0);
  EXPECT_TRUE(e.optimizer.nesterov);
  EXPECT_DOUBLE_EQ(*e.optimizer.norm_decay_mult, 0.0);
  EXPECT_DOUBLE_EQ(*e.optimizer.bias_decay_mult, 0.0);
  EXPECT_DOUBLE_EQ(*e.optimizer.bias_lr_mult, 2.0);
}

TEST(BuildEngine, AmpOptimWrapper) {
  ConfigNode c = Y(kSolo);
  apply_overrides(c, {"optim_wrapper.type=AmpOptimWrapper", "optim_wrapper.loss_scale=dynamic"});
  EngineSpec e = engine_spec_from(c);
  EXPECT_EQ(e.amp, AmpDtype::fp16);
  EXPECT_FALSE(e.amp_dtype_explicit);
  apply_overrides(c, {"optim_wrapper.dtype=bfloat16"});
  e = engine_spec_from(c);
  EXPECT_EQ(e.amp, AmpDtype::bf16);
  EXPECT_TRUE(e.amp_dtype_explicit);
  apply_overrides(c, {"optim_wrapper.loss_scale=512."});
  EXPECT_NE(error_of([&] { engine_spec_from(c); }).find("optim_wrapper.loss_scale: only 'dynamic'"),
            std::string::npos);
  ConfigNode plain = Y(kSolo);
  apply_overrides(plain, {"optim_wrapper.dtype=float16"});
  EXPECT_NE(error_of([&] { engine_spec_from(plain); }).find("optim_wrapper.dtype: needs type='AmpOptimWrapper'"),
            std::string::npos);
}

TEST(BuildEngine, SchedulersAndHooks) {
  ConfigNode c = Y(kSolo);
  c["param_scheduler"] = Y(R"({type: CosineAnnealingLR, T_max: 12, eta_min_ratio: 0.05, begin: 0, end: 12,
                              by_epoch: true, convert_to_iter_based: true})");
  c["default_hooks"]["checkpoint"] = Y("{type: CheckpointHook, interval: 2000, by_epoch: false, max_keep_ckpts: 3}");
  EngineSpec e = engine_spec_from(c);
  ASSERT_EQ(e.schedulers.size(), 1u);  // a single dict is accepted, as in mmengine
  EXPECT_EQ(e.schedulers[0].type, SchedulerSpec::Type::cosine);
  EXPECT_TRUE(e.schedulers[0].convert_to_iter_based);
  EXPECT_EQ(e.schedulers[0].t_max, 12);
  EXPECT_DOUBLE_EQ(e.schedulers[0].eta_min_ratio, 0.05);
  TrainerOptions to;
  e.apply_to(&to);
  EXPECT_EQ(to.checkpoint_interval, 0);
  EXPECT_EQ(to.checkpoint_interval_iters, 2000);
  EXPECT_EQ(to.max_keep_ckpts, 3);

  c["param_scheduler"] = Y("{l: [{type: ConstantLR, factor: 0.5, end: 3}]}")["l"];
  c["default_hooks"]["checkpoint"] = nullptr;  // checkpoint=None: no CheckpointHook
  e = engine_spec_from(c);
  EXPECT_EQ(e.schedulers[0].type, SchedulerSpec::Type::constant);
  EXPECT_DOUBLE_EQ(e.schedulers[0].factor, 0.5);
  EXPECT_TRUE(e.schedulers[0].by_epoch);  // mmengine's default
  e.apply_to(&to);
  EXPECT_EQ(to.checkpoint_interval, 0);
  EXPECT_EQ(to.checkpoint_interval_iters, 0);
}

TEST(BuildEngine, UnknownKeysAreErrors) {
  struct Case {
    const char* override;
    const char* message;
  };
  const Case cases[] = {
      {"optim_wrapper.optimizer.momentun=0.9", "unknown key 'optim_wrapper.optimizer.momentun' (did you mean 'momentum'?)"},
      {"optim_wrapper.clip_grads.max_norm=1", "unknown key 'optim_wrapper.clip_grads'"},
      {"optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mul=0.1", "optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mul"},
      {"param_scheduler.0.star_factor=0.1", "unknown key 'param_scheduler.0.star_factor'"},
      {"train_cfg.max_epoch=3", "unknown key 'train_cfg.max_epoch'"},
      {"default_hooks.checkpoint.intervall=3", "unknown key 'default_hooks.checkpoint.intervall'"},
      {"default_hooks.logger.interval_s=3", "unknown key 'default_hooks.logger.interval_s'"},
      {"default_hooks.my_hook.type=X", "unknown key 'default_hooks.my_hook'"},
      {"randomness.sed=1", "unknown key 'randomness.sed'"},
      {"auto_scale_lr.enabled=true", "unknown key 'auto_scale_lr.enabled'"},
      {"optim_wrapper.optimizer.type=Adam", "optim_wrapper.optimizer.type: unsupported type 'Adam'"},
      {"optim_wrapper.type=ApexOptimWrapper", "optim_wrapper.type: unsupported type 'ApexOptimWrapper'"},
      {"param_scheduler.1.type=PolyLR", "param_scheduler.1.type: unsupported type 'PolyLR'"},
      {"train_cfg.type=IterBasedTrainLoop", "train_cfg.type: unsupported type 'IterBasedTrainLoop'"},
      {"optim_wrapper.clip_grad.norm_type=1", "optim_wrapper.clip_grad.norm_type: only the L2 norm"},
      {"optim_wrapper.accumulative_counts=2", "optim_wrapper.accumulative_counts: gradient accumulation"},
      {"optim_wrapper.optimizer.lr=-1", "optim_wrapper.optimizer.lr: must be a positive number"},
      {"param_scheduler.0.end=0", "param_scheduler.0.end: must exceed begin"},
      {"param_scheduler.1.milestones=[11,8]", "param_scheduler.1.milestones: must be increasing"},
      {"train_cfg.max_epochs=0", "train_cfg.max_epochs: must be >= 1"},
  };
  for (const Case& k : cases) {
    ConfigNode c = Y(kSolo);
    apply_overrides(c, {k.override});
    const std::string err = error_of([&] { engine_spec_from(c); });
    EXPECT_NE(err.find(k.message), std::string::npos) << k.override << " -> " << err;
  }
  ConfigNode none = Y("{train_cfg: {type: EpochBasedTrainLoop, max_epochs: 1}}");
  EXPECT_NE(error_of([&] { engine_spec_from(none); }).find("no 'optim_wrapper' section"), std::string::npos);
}

TEST(BuildEngine, AutoScaleLr) {
  ConfigNode c = Y(kSolo);
  EngineSpec e = engine_spec_from(c);
  apply_auto_scale_lr(&e, 4);  // disabled: unchanged
  EXPECT_DOUBLE_EQ(e.optimizer.lr, 0.01);
  apply_overrides(c, {"auto_scale_lr.enable=true"});
  e = engine_spec_from(c);
  apply_auto_scale_lr(&e, 4);  // 4 / 16 of the base lr
  EXPECT_DOUBLE_EQ(e.optimizer.lr, 0.0025);
}

TEST(BuildEngine, CustomHooks) {
  ConfigNode c = Y(kSolo);
  EXPECT_EQ(engine_spec_from(c).precise_bn_num_samples, 0);  // no custom_hooks: no PreciseBNHook
  // mmpretrain's PreciseBNHook with its defaults; other hooks are accepted with a notice.
  c["custom_hooks"] = ConfigNode::parse(R"([{"type": "EMAHook", "momentum": 0.0002}, {"type": "PreciseBNHook", "priority": "ABOVE_NORMAL"}])");
  EngineSpec e = engine_spec_from(c);
  EXPECT_EQ(e.precise_bn_num_samples, 8192);
  EXPECT_EQ(e.precise_bn_interval, 1);
  c["custom_hooks"] = ConfigNode::parse(R"([{"type": "PreciseBNHook", "num_samples": 200, "interval": 5}])");
  e = engine_spec_from(c);
  EXPECT_EQ(e.precise_bn_num_samples, 200);
  EXPECT_EQ(e.precise_bn_interval, 5);
  c["custom_hooks"] = ConfigNode::parse(R"([])");
  EXPECT_EQ(engine_spec_from(c).precise_bn_num_samples, 0);

  c["custom_hooks"] = ConfigNode::parse(R"([{"type": "PreciseBNHook", "num_sample": 200}])");  // misspelt
  EXPECT_NE(error_of([&] { engine_spec_from(c); }).find("custom_hooks.0.num_sample"), std::string::npos);
  c["custom_hooks"] = ConfigNode::parse(R"([{"type": "EMAHook"}, {"type": "PreciseBNHook", "num_samples": 0}])");
  EXPECT_NE(error_of([&] { engine_spec_from(c); }).find("custom_hooks.1.num_samples: must be >= 1"), std::string::npos);
  c["custom_hooks"] = ConfigNode::parse(R"([{"type": "PreciseBNHook", "interval": 0}])");
  EXPECT_NE(error_of([&] { engine_spec_from(c); }).find("custom_hooks.0.interval: must be >= 1"), std::string::npos);
  c["custom_hooks"] = ConfigNode::parse(R"([{"type": "PreciseBNHook"}, {"type": "PreciseBNHook"}])");
  EXPECT_NE(error_of([&] { engine_spec_from(c); }).find("PreciseBNHook given twice"), std::string::npos);
  c["custom_hooks"] = ConfigNode::parse(R"({"type": "PreciseBNHook"})");
  EXPECT_NE(error_of([&] { engine_spec_from(c); }).find("custom_hooks: expected a list"), std::string::npos);
  c["custom_hooks"] = ConfigNode::parse(R"(["PreciseBNHook"])");
  EXPECT_NE(error_of([&] { engine_spec_from(c); }).find("custom_hooks.0: expected a dict"), std::string::npos);
}

}  // namespace
}  // namespace instseg
