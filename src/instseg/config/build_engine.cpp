#include "instseg/config/build_engine.h"

#include <cmath>
#include <limits>

#include "instseg/core/log.h"

namespace instseg {
namespace {

// mmengine's INF for scheduler `end` (int 1e9); our "unbounded" is int32 max.
constexpr int64_t kInfEnd = std::numeric_limits<int32_t>::max();

void require_false(ConfigReader& r, const std::string& key, const char* why) {
  if (r.get<bool>(key, false)) r.fail_key(key, "must be False: ", why);
}

void check_positive(ConfigReader& r, const std::string& key, double v) {
  if (!(v > 0) || !std::isfinite(v)) r.fail_key(key, "must be a positive number, got ", v);
}

void check_non_negative(ConfigReader& r, const std::string& key, double v) {
  if (!(v >= 0) || !std::isfinite(v)) r.fail_key(key, "must be >= 0, got ", v);
}

// optional<double> from a multiplier key, checked >= 0.
optional<double> mult(ConfigReader& r, const std::string& key) {
  auto v = r.get_optional<double>(key);
  if (v) check_non_negative(r, key, *v);
  return v;
}

void train_cfg_from(ConfigReader& r, EngineSpec* e) {
  const std::string type = r.expect_type({"EpochBasedTrainLoop"});
  (void)type;
  e->max_epochs = r.get<int64_t>("max_epochs");
  if (e->max_epochs < 1) r.fail_key("max_epochs", "must be >= 1, got ", e->max_epochs);
  e->val_interval = r.get<int64_t>("val_interval", 1);
  if (e->val_interval < 0) r.fail_key("val_interval", "must be >= 0, got ", e->val_interval);
  e->val_begin = r.get<int64_t>("val_begin", 1);
  // instseg's own key (mmengine's loops have none): see TrainerOptions.
  e->max_consecutive_nonfinite = r.get<int64_t>("max_consecutive_nonfinite", e->max_consecutive_nonfinite);
  if (r.has_value("dynamic_intervals"))
    r.fail_key("dynamic_intervals", "is not implemented (use one val_interval)");
}

void checkpoint_hook_from(ConfigReader& r, EngineSpec* e) {
  r.expect_type({"CheckpointHook"});
  e->checkpoint_interval = r.get<int64_t>("interval", -1);
  e->checkpoint_by_epoch = r.get<bool>("by_epoch", true);
  e->max_keep_ckpts = r.get<int>("max_keep_ckpts", -1);
  if (!r.get<bool>("save_optimizer", true))
    r.fail_key("save_optimizer", "checkpoints always hold the optimizer state (needed for --resume)");
  r.get<bool>("save_param_scheduler", true);  // schedules are closed-form: nothing to save
  if (!r.get<bool>("save_last", true))
    r.fail_key("save_last", "the last checkpoint is always saved (it is what --resume continues from)");
  if (r.has_value("save_best"))
    log_info("config: ", r.key_path("save_best"), ": best-checkpoint tracking is not implemented; ignored");
  if (r.get<int64_t>("save_begin", 0) != 0) r.fail_key("save_begin", "only 0 is implemented");
  if (r.has_value("out_dir")) r.fail_key("out_dir", "checkpoints are written to the work_dir only");
  if (r.has_value("filename_tmpl"))
    r.fail_key("filename_tmpl", "checkpoint names are fixed: epoch_{}.pth / iter_{}.pth");
  r.ignore({"rule", "greater_keys", "less_keys", "published_keys", "file_client_args", "backend_args"});
}

void logger_hook_from(ConfigReader& r, EngineSpec* e) {
  r.expect_type({"LoggerHook"});
  e->log_interval = r.get<int64_t>("interval", 10);  // LoggerHook's default
  if (e->log_interval < 1) r.fail_key("interval", "must be >= 1, got ", e->log_interval);
  r.ignore({"ignore_last", "interval_exp_name", "out_dir", "out_suffix", "keep_local", "file_client_args",
            "backend_args", "log_metric_by_epoch"});
}

void default_hooks_from(ConfigReader& r, EngineSpec* e) {
  // mmengine's default_hooks entries; every one but checkpoint and logger is
  // built into the trainer (timer, lr updates, sampler epochs) or has no
  // instseg counterpart (visualization during validation).
  for (const std::string& name : r.keys()) {
    if (name == "checkpoint") {
      if (auto c = r.child_optional("checkpoint")) checkpoint_hook_from(*c, e);
      else e->checkpoint_interval = 0;  // checkpoint=None: no CheckpointHook
    } else if (name == "logger") {
      if (auto l = r.child_optional("logger")) logger_hook_from(*l, e);
    } else if (name == "timer" || name == "param_scheduler" || name == "sampler_seed" ||
               name == "runtime_info") {
      r.ignore({name});  // built into the trainer
    } else if (name == "visualization") {
      r.ignore({name});
      const ConfigNode& v = r.node().at(name);
      if (v.is_object() && v.contains("draw") && v.at("draw").is_boolean() && v.at("draw").get<bool>())
        log_info("config: ", r.key_path(name), ": drawing validation results is not implemented; ignored");
    }
    // Anything else stays unregistered: finish() reports it.
  }
}

void randomness_from(ConfigReader& r, EngineSpec* e) {
  e->seed = r.get_optional<int64_t>("seed");
  if (e->seed && *e->seed < 0) r.fail_key("seed", "must be >= 0, got ", *e->seed);
  e->deterministic = r.get<bool>("deterministic", false);
  e->diff_rank_seed = r.get<bool>("diff_rank_seed", false);
}

void auto_scale_lr_from(ConfigReader& r, EngineSpec* e) {
  e->auto_scale_lr = r.get<bool>("enable", false);
  e->base_batch_size = r.get<int64_t>("base_batch_size", 16);
  if (e->base_batch_size < 1) r.fail_key("base_batch_size", "must be >= 1, got ", e->base_batch_size);
}

// A dict section of `root`, or nullptr when absent / null; errors for a
// non-dict value.
const ConfigNode* section(const ConfigNode& root, const std::string& key) {
  if (!root.contains(key) || root.at(key).is_null()) return nullptr;
  const ConfigNode& v = root.at(key);
  if (!v.is_object()) fail("config: ", key, ": expected a dict, got ", config_detail::describe(v));
  return &v;
}

}  // namespace

OptimizerOptions optimizer_options_from(ConfigReader& r) {
  OptimizerOptions o;
  o.type = r.expect_type({"SGD", "AdamW"});
  if (o.type == "SGD") {
    o.lr = r.get<double>("lr");  // torch.optim.SGD has no default lr
    o.momentum = r.get<double>("momentum", 0.0);
    o.dampening = r.get<double>("dampening", 0.0);
    o.nesterov = r.get<bool>("nesterov", false);
    o.weight_decay = r.get<double>("weight_decay", 0.0);
    check_non_negative(r, "momentum", o.momentum);
    if (o.nesterov && (o.momentum <= 0 || o.dampening != 0))
      r.fail_key("nesterov", "Nesterov momentum requires a momentum and zero dampening");
  } else {
    o.lr = r.get<double>("lr", 1e-3);
    o.weight_decay = r.get<double>("weight_decay", 1e-2);  // torch.optim.AdamW's default
    if (auto betas = r.get_optional<std::vector<double>>("betas")) {
      if (betas->size() != 2) r.fail_key("betas", "must be (beta1, beta2), got ", betas->size(), " values");
      for (double b : *betas)
        if (!(b >= 0 && b < 1)) r.fail_key("betas", "values must be in [0, 1), got ", b);
      o.beta1 = (*betas)[0];
      o.beta2 = (*betas)[1];
    }
    o.eps = r.get<double>("eps", 1e-8);
    check_positive(r, "eps", o.eps);
    o.amsgrad = r.get<bool>("amsgrad", false);
    require_false(r, "capturable", "CUDA graphs are not used");
    require_false(r, "fused", "the fused AdamW kernel is not available in LibTorch");
  }
  check_positive(r, "lr", o.lr);
  check_non_negative(r, "weight_decay", o.weight_decay);
  require_false(r, "maximize", "training minimises the loss");
  r.ignore({"foreach", "differentiable"});  // implementation choices with the same arithmetic
  return o;
}

void paramwise_cfg_from(ConfigReader& r, OptimizerOptions* o) {
  if (auto ck = r.child_optional("custom_keys")) {
    for (const std::string& key : ck->keys()) {
      ConfigReader k = ck->child(key);
      ParamRule rule;
      rule.key = key;
      rule.lr_mult = k.get<double>("lr_mult", 1.0);
      check_non_negative(k, "lr_mult", rule.lr_mult);
      rule.decay_mult = mult(k, "decay_mult");
      o->custom_keys.push_back(rule);
    }
  }
  o->bias_lr_mult = mult(r, "bias_lr_mult");
  o->bias_decay_mult = mult(r, "bias_decay_mult");
  o->norm_decay_mult = mult(r, "norm_decay_mult");
  for (const char* k : {"dwconv_decay_mult", "flat_decay_mult", "dcn_offset_lr_mult"}) {
    if (auto v = r.get_optional<double>(k))
      if (*v != 1.0) r.fail_key(k, "is not implemented (only 1.0)");
  }
  r.get<bool>("bypass_duplicate", false);  // parameters are never shared between modules here
}

void optim_wrapper_from(ConfigReader& r, EngineSpec* e) {
  e->optim_wrapper_type = r.expect_type({"OptimWrapper", "AmpOptimWrapper"});
  const bool amp = e->optim_wrapper_type == "AmpOptimWrapper";
  ConfigReader opt = r.child("optimizer");
  e->optimizer = optimizer_options_from(opt);
  if (auto clip = r.child_optional("clip_grad")) {
    e->clip_max_norm = clip->get<double>("max_norm");
    check_positive(*clip, "max_norm", *e->clip_max_norm);
    const double norm_type = clip->get<double>("norm_type", 2.0);
    if (norm_type != 2.0) clip->fail_key("norm_type", "only the L2 norm (2) is implemented, got ", norm_type);
    require_false(*clip, "error_if_nonfinite", "non-finite norms skip clipping instead");
    if (clip->has_value("type") && clip->get<std::string>("type") != "norm")
      clip->fail_key("type", "only 'norm' clipping (clip_grad_norm_) is implemented");
  }
  if (auto pw = r.child_optional("paramwise_cfg")) paramwise_cfg_from(*pw, &e->optimizer);
  if (const ConfigNode* c = r.find("constructor")) {
    if (!c->is_null() && !(c->is_string() && c->get<std::string>() == "DefaultOptimWrapperConstructor"))
      r.fail_key("constructor", "only DefaultOptimWrapperConstructor is implemented");
  }
  const int64_t acc = r.get<int64_t>("accumulative_counts", 1);
  if (acc != 1) r.fail_key("accumulative_counts", "gradient accumulation is not implemented (only 1)");
  if (amp) {
    e->amp = AmpDtype::fp16;  // AmpOptimWrapper's dtype=None means float16
    if (auto d = r.get_optional<std::string>("dtype")) {
      e->amp_dtype_explicit = true;
      if (*d == "float16" || *d == "fp16") e->amp = AmpDtype::fp16;
      else if (*d == "bfloat16" || *d == "bf16") e->amp = AmpDtype::bf16;
      else r.fail_key("dtype", "must be 'float16' or 'bfloat16', got '", *d, "'");
    }
    if (const ConfigNode* ls = r.find("loss_scale")) {
      const bool dynamic = ls->is_string() && ls->get<std::string>() == "dynamic";
      if (!dynamic && !ls->is_null())
        r.fail_key("loss_scale", "only 'dynamic' loss scaling is implemented, got ", config_detail::describe(*ls));
    }
    r.get<bool>("use_fsdp", false);
  } else {
    for (const char* k : {"dtype", "loss_scale"})
      if (r.has_value(k)) r.fail_key(k, "needs type='AmpOptimWrapper'");
  }
}

SchedulerSpec scheduler_spec_from(ConfigReader& r) {
  const std::string type = r.expect_type({"LinearLR", "MultiStepLR", "CosineAnnealingLR", "ConstantLR"});
  SchedulerSpec s;
  s.by_epoch = r.get<bool>("by_epoch", true);  // mmengine's default for every scheduler
  s.convert_to_iter_based = r.get<bool>("convert_to_iter_based", false);
  if (s.convert_to_iter_based && !s.by_epoch)
    r.fail_key("convert_to_iter_based", "needs by_epoch=True");
  s.begin = r.get<int64_t>("begin", 0);
  s.end = r.get<int64_t>("end", kInfEnd);
  if (s.end >= 1000000000) s.end = kInfEnd;  // mmengine's INF = int(1e9): unbounded
  if (s.begin < 0) r.fail_key("begin", "must be >= 0, got ", s.begin);
  if (s.end <= s.begin) r.fail_key("end", "must exceed begin (", s.begin, "), got ", s.end);
  if (r.get<int64_t>("last_step", -1) != -1) r.fail_key("last_step", "only -1 is implemented");
  r.ignore({"verbose"});
  if (type == "LinearLR") {
    s.type = SchedulerSpec::Type::linear;
    s.start_factor = r.get<double>("start_factor", 1.0 / 3.0);
    s.end_factor = r.get<double>("end_factor", 1.0);
    if (!(s.start_factor > 0 && s.start_factor <= 1))
      r.fail_key("start_factor", "must be in (0, 1], got ", s.start_factor);
    if (!(s.end_factor >= 0 && s.end_factor <= 1)) r.fail_key("end_factor", "must be in [0, 1], got ", s.end_factor);
    if (s.end != kInfEnd && s.end - s.begin < 2) r.fail_key("end", "LinearLR needs end - begin >= 2");
  } else if (type == "MultiStepLR") {
    s.type = SchedulerSpec::Type::multistep;
    s.milestones = r.get<std::vector<int64_t>>("milestones");
    for (size_t i = 1; i < s.milestones.size(); ++i)
      if (s.milestones[i] < s.milestones[i - 1]) r.fail_key("milestones", "must be increasing");
    s.gamma = r.get<double>("gamma", 0.1);
    check_positive(r, "gamma", s.gamma);
  } else if (type == "CosineAnnealingLR") {
    s.type = SchedulerSpec::Type::cosine;
    s.t_max = r.get_optional<int64_t>("T_max").value_or(0);
    if (s.t_max < 0) r.fail_key("T_max", "must be positive, got ", s.t_max);
    if (s.t_max == 0 && s.end == kInfEnd) r.fail_key("T_max", "is required when end is not given");
    const auto eta_min = r.get_optional<double>("eta_min");
    const auto eta_min_ratio = r.get_optional<double>("eta_min_ratio");
    if (eta_min && eta_min_ratio) r.fail_key("eta_min_ratio", "give eta_min or eta_min_ratio, not both");
    s.eta_min = eta_min.value_or(0.0);
    if (eta_min_ratio) s.eta_min_ratio = *eta_min_ratio;
  } else {  // ConstantLR
    s.type = SchedulerSpec::Type::constant;
    s.factor = r.get<double>("factor", 1.0 / 3.0);
    if (!(s.factor > 0 && s.factor <= 1)) r.fail_key("factor", "must be in (0, 1], got ", s.factor);
  }
  return s;
}

std::vector<SchedulerSpec> param_scheduler_from(const ConfigNode& node, const std::string& path) {
  std::vector<SchedulerSpec> out;
  if (node.is_null()) return out;
  if (node.is_object()) {
    ConfigReader r(node, path);
    out.push_back(scheduler_spec_from(r));
    r.finish();
    return out;
  }
  if (!node.is_array())
    fail("config: ", path, ": expected a list of scheduler dicts, got ", config_detail::describe(node));
  for (size_t i = 0; i < node.size(); ++i) {
    ConfigReader r(node[i], path + "." + std::to_string(i));
    out.push_back(scheduler_spec_from(r));
    r.finish();
  }
  return out;
}

void custom_hooks_from(const ConfigNode& node, const std::string& path, EngineSpec* out) {
  if (node.is_null()) return;
  if (!node.is_array()) fail("config: ", path, ": expected a list of hook dicts, got ", config_detail::describe(node));
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string p = path + "." + std::to_string(i);
    if (!node.at(i).is_object()) fail("config: ", p, ": expected a dict, got ", config_detail::describe(node.at(i)));
    ConfigReader r(node.at(i), p);
    const std::string type = r.type();
    if (type == "PreciseBNHook") {
      if (out->precise_bn_num_samples > 0) r.fail_key("type", "PreciseBNHook given twice");
      out->precise_bn_num_samples = r.get<int64_t>("num_samples", 8192);  // mmpretrain's defaults
      out->precise_bn_interval = r.get<int64_t>("interval", 1);
      if (out->precise_bn_num_samples < 1) r.fail_key("num_samples", "must be >= 1, got ", out->precise_bn_num_samples);
      if (out->precise_bn_interval < 1) r.fail_key("interval", "must be >= 1, got ", out->precise_bn_interval);
      r.ignore({"priority"});  // it runs after each epoch, before the checkpoint and validation (mmpretrain's order)
      r.finish();
    } else {
      // As before custom_hooks were read: accepted with a notice, so mmdet
      // configs (EMAHook, NumClassCheckHook, ...) still train.
      log_info("config: ", p, ": ", type, " has no instseg counterpart; ignored");
    }
  }
}

EngineSpec engine_spec_from(const ConfigNode& root) {
  if (!root.is_object()) fail("config: the top level must be a dict");
  EngineSpec e;

  const ConfigNode* ow = section(root, "optim_wrapper");
  if (!ow) fail("config: no 'optim_wrapper' section (dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=...)))");
  {
    ConfigReader r(*ow, "optim_wrapper");
    optim_wrapper_from(r, &e);
    r.finish();
  }
  if (root.contains("param_scheduler")) e.schedulers = param_scheduler_from(root.at("param_scheduler"), "param_scheduler");

  const ConfigNode* tc = section(root, "train_cfg");
  if (!tc) fail("config: no 'train_cfg' section (dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1))");
  {
    ConfigReader r(*tc, "train_cfg");
    train_cfg_from(r, &e);
    r.finish();
  }
  // mmengine without default_hooks.checkpoint in the config still has a
  // CheckpointHook(interval=1) from the runner's defaults.
  if (const ConfigNode* dh = section(root, "default_hooks")) {
    ConfigReader r(*dh, "default_hooks");
    default_hooks_from(r, &e);
    r.finish();
  }
  if (const ConfigNode* rn = section(root, "randomness")) {
    ConfigReader r(*rn, "randomness");
    randomness_from(r, &e);
    r.finish();
  }
  if (const ConfigNode* as = section(root, "auto_scale_lr")) {
    ConfigReader r(*as, "auto_scale_lr");
    auto_scale_lr_from(r, &e);
    r.finish();
  }
  if (root.contains("custom_hooks")) custom_hooks_from(root.at("custom_hooks"), "custom_hooks", &e);
  // Validates the combination (LrSchedule's own checks) with a config-style message.
  try {
    LrSchedule check(e.schedulers, 1);
    (void)check;
  } catch (const std::exception& ex) {
    fail("config: param_scheduler: ", ex.what());
  }
  return e;
}

void EngineSpec::apply_to(TrainerOptions* o) const {
  o->max_epochs = max_epochs;
  o->val_interval = val_interval;
  o->val_begin = val_begin;
  o->max_consecutive_nonfinite = max_consecutive_nonfinite;
  o->checkpoint_interval = 0;
  o->checkpoint_interval_iters = 0;
  if (checkpoint_interval > 0) {
    if (checkpoint_by_epoch) o->checkpoint_interval = checkpoint_interval;
    else o->checkpoint_interval_iters = checkpoint_interval;
  }
  o->max_keep_ckpts = max_keep_ckpts;
  o->log_interval = log_interval;
  o->clip_max_norm = clip_max_norm;
  o->amp = amp;
  if (seed) o->seed = *seed;
}

void apply_auto_scale_lr(EngineSpec* spec, int64_t total_batch_size) {
  if (!spec->auto_scale_lr) {
    log_debug("config: auto_scale_lr is disabled; lr stays ", spec->optimizer.lr);
    return;
  }
  INSTSEG_CHECK(total_batch_size >= 1, "auto_scale_lr: bad batch size ", total_batch_size);
  const double ratio = static_cast<double>(total_batch_size) / static_cast<double>(spec->base_batch_size);
  const double lr = spec->optimizer.lr * ratio;
  log_info("auto_scale_lr: lr ", spec->optimizer.lr, " -> ", lr, " (total batch ", total_batch_size,
           " / base_batch_size ", spec->base_batch_size, ")");
  spec->optimizer.lr = lr;
}

}  // namespace instseg
