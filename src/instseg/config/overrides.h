// `--cfg-options key=value ...`: mmengine's DictAction + Config.merge_from_dict.
//
//   apply_overrides(cfg, {"model.backbone.depth=101", "optim_wrapper.optimizer.lr=0.02",
//                         "model.test_cfg.score_thr=0.3", "a.b=[1,2]", "x.z=None"});
//
// Values parse like DictAction._parse_iterable: quotes (' and ") are stripped
// from both ends and ALL spaces are removed (as in mmengine); "[...]" and
// "(...)" give lists (nesting allowed, tuples become lists), a bare "a,b" is a
// list too; otherwise int (Python int(): "+3", "1_000", "007"), float
// (Python float(): "1e-4", ".5", "inf", "nan"), bool (true/false in any case),
// None -> null, anything else a string.
//
// Keys are dotted paths. Missing intermediate dicts are created (a null one is
// replaced by a dict); a numeric component indexes a list ("a.0.b=1",
// "model.roi_head.bbox_head.2.num_classes=3"); the last component replaces the
// value (dicts included). Errors are instseg::Error naming the override.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "instseg/config/config_tree.h"

namespace instseg {

// DictAction._parse_iterable for one value string.
ConfigNode parse_override_value(const std::string& text);

// "a.b=c" -> {"a.b", parse_override_value("c")}; errors when there is no '='
// or the key is empty.
std::pair<std::string, ConfigNode> parse_override(const std::string& key_eq_value);

// Sets tree[key path] = value (see above).
void apply_override(ConfigNode& tree, const std::string& key, const ConfigNode& value);

// Parses and applies each "key=value" in order.
void apply_overrides(ConfigNode& tree, const std::vector<std::string>& items);

// What a CLI command does with `--config X --cfg-options k=v ...`:
// load_config(X) (one level of _base_), apply_overrides, check_top_level (one
// notice for ignored sections). With CLI11:
//   std::vector<std::string> cfg_options;
//   cmd->add_option("--cfg-options", cfg_options, "override config keys: a.b=1 c=[1,2]")->expected(0, -1);
//   ConfigNode cfg = load_config_with_overrides(config_path, cfg_options);
ConfigNode load_config_with_overrides(const std::string& path, const std::vector<std::string>& cfg_options);

}  // namespace instseg
