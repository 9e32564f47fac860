#include "instseg/config/top_level.h"

#include "instseg/core/check.h"
#include "instseg/core/log.h"

namespace instseg {
namespace {

// Sections and variables some instseg component reads. mmdet configs also
// define helper variables at the top level (QueryInst's num_stages,
// num_proposals; max_epochs, backend_args, ...): they are listed so that
// they do not show up as "ignored" although their values were already
// substituted where they are used.
const char* const kUsedTopLevelKeys[] = {
    "model",           "train_cfg",        "val_cfg",        "test_cfg",        "optim_wrapper",
    "param_scheduler", "train_dataloader", "val_dataloader", "test_dataloader", "val_evaluator",
    "test_evaluator",  "default_scope",    "work_dir",       "randomness",      "auto_scale_lr",
    "env_cfg",         "load_from",        "resume",         "launcher",        "log_level",
    "dataset_type",    "data_root",        "backend_args",   "train_pipeline",  "test_pipeline",
    "val_pipeline",    "max_epochs",       "max_iters",      "num_stages",      "num_proposals",
    "default_hooks",
};

// Present in the fixtures' config.json; not a config section at all.
const char* const kSilentTopLevelKeys[] = {"pretty_text", "filename", "text", "env_variables"};

bool in(const char* const* begin, const char* const* end, const std::string& key) {
  for (auto it = begin; it != end; ++it)
    if (key == *it) return true;
  return false;
}

}  // namespace

bool is_used_top_level_key(const std::string& key) {
  return in(std::begin(kUsedTopLevelKeys), std::end(kUsedTopLevelKeys), key);
}

std::vector<std::string> check_top_level(const ConfigNode& cfg) {
  if (!cfg.is_object()) fail("config: the top level must be a dict");
  std::vector<std::string> ignored;
  for (const auto& [k, v] : cfg.items()) {
    if (is_used_top_level_key(k)) continue;
    if (in(std::begin(kSilentTopLevelKeys), std::end(kSilentTopLevelKeys), k)) continue;
    ignored.push_back(k);
  }
  if (!ignored.empty()) {
    std::string list;
    for (const auto& k : ignored) list += (list.empty() ? "" : ", ") + k;
    log_info("config: ignoring top-level sections instseg does not use: ", list);
  }
  return ignored;
}

}  // namespace instseg
