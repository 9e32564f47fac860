#include "instseg/config/top_level.h"

#include "instseg/config/config_reader.h"
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
    "default_hooks",   "custom_hooks",
};

// mmengine / mmdet sections instseg has no equivalent for: accepted with a
// notice (they are in every mmdet config).
const char* const kKnownIgnoredTopLevelKeys[] = {
    "visualizer",  "vis_backends", "log_processor", "custom_imports", "model_wrapper_cfg",
    "tta_model",    "tta_pipeline", "file_client_args", "experiment_name", "custom_keys", "data_preprocessor",
    "img_scales",   "img_scale",    "lang_model_name", "metainfo", "classes", "data",
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

std::vector<std::string> known_top_level_keys() {
  std::vector<std::string> out(std::begin(kUsedTopLevelKeys), std::end(kUsedTopLevelKeys));
  out.insert(out.end(), std::begin(kKnownIgnoredTopLevelKeys), std::end(kKnownIgnoredTopLevelKeys));
  return out;
}

void check_override_top_level_keys(const ConfigNode& cfg, const std::vector<std::string>& items) {
  std::vector<std::string> candidates(std::begin(kUsedTopLevelKeys), std::end(kUsedTopLevelKeys));
  if (cfg.is_object())
    for (const auto& [k, v] : cfg.items()) candidates.push_back(k);
  for (const auto& item : items) {
    const std::string key = item.substr(0, std::min(item.find('='), item.find('.')));
    if (key.empty() || (cfg.is_object() && cfg.contains(key)) || is_used_top_level_key(key) ||
        in(std::begin(kKnownIgnoredTopLevelKeys), std::end(kKnownIgnoredTopLevelKeys), key) ||
        in(std::begin(kSilentTopLevelKeys), std::end(kSilentTopLevelKeys), key))
      continue;
    const std::string near = closest_key(key, candidates);
    fail("config: --cfg-options ", item, ": unknown top-level key '", key, "'",
         near.empty() ? std::string(" (not in the config and not a section instseg reads)")
                      : " (did you mean '" + near + "'?)");
  }
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
    // A key one typo away from a section instseg reads is most likely that
    // section misspelt: say so louder than the notice.
    const std::vector<std::string> used(std::begin(kUsedTopLevelKeys), std::end(kUsedTopLevelKeys));
    std::string list;
    for (const auto& k : ignored) {
      list += (list.empty() ? "" : ", ") + k;
      if (in(std::begin(kKnownIgnoredTopLevelKeys), std::end(kKnownIgnoredTopLevelKeys), k)) continue;
      const std::string near = closest_key(k, used);
      if (!near.empty() && !cfg.contains(near) && edit_distance(k, near) <= 2)
        log_warning("config: top-level key '", k, "' is not used by instseg (did you mean '", near, "'?)");
    }
    log_info("config: ignoring top-level sections instseg does not use: ", list);
  }
  return ignored;
}

}  // namespace instseg
