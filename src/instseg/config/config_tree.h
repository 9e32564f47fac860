// Config files -> one in-memory tree (nlohmann::ordered_json).
//
// instseg reads mmdetection configs as mmengine dumps them (`cfg.dump('x.yaml')`
// or `x.json`) and its own configs/ in the same schema: nested dicts with `type`
// fields. The tree is an ordered_json so printing keeps the file's key order.
//
//   ConfigNode cfg = load_config("configs/solov2_r50_fpn_1x.yaml");  // _base_ resolved
//   apply_overrides(cfg, cli_cfg_options);                            // overrides.h
//
// `_base_` (a path or a list of paths, relative to the file): the bases are
// loaded and merged (a key defined by two bases is an error), then the file is
// merged over them: dicts merge recursively, a child dict with `_delete_: true`
// replaces the base dict instead, anything else (lists included) replaces.
// Only ONE level of `_base_` is supported: a base with its own `_base_` is an
// error naming both files. `{{_base_.x}}` / `{{fileDirname}}` templates are
// not supported and are reported as errors.
//
// YAML scalars resolve like PyYAML (YAML 1.1, what mmengine uses):
// true/false/yes/no/on/off (any of the three casings) -> bool; null, ~, empty
// -> null; decimal / 0x / 0o / 0b / 0-prefixed octal ints; floats incl. .5,
// 1.0e-05, .inf, .nan and also 1e-4 (PyYAML would keep "1e-4" a string; we
// read it as the number everyone means). Quoted scalars and !!str stay strings;
// !!python/tuple sequences (mmengine's YAML dump of tuples) become lists.
// All errors are instseg::Error starting with "config: <file>: ".
#pragma once
#include <nlohmann/json.hpp>

#include <string>

#include "instseg/core/check.h"  // instseg::Error

namespace instseg {

// The config tree: objects keep insertion (file) order.
using ConfigNode = nlohmann::ordered_json;

// Reads one file (.yaml / .yml / .json) as is: `_base_` is NOT resolved.
// The root must be a dict (an empty YAML file gives an empty dict).
ConfigNode read_config_file(const std::string& path);

// Parses YAML text (`what` names the source in errors).
ConfigNode parse_yaml_config(const std::string& text, const std::string& what = "<string>");

// Reads `path` and resolves its `_base_` (one level). `_delete_` keys are
// removed from the result.
ConfigNode load_config(const std::string& path);

// mmengine's Config._merge_a_into_b for files: `child` merged over `base`
// (returns the merged tree; `_delete_` handled and stripped). `what` names
// the child in errors. Deviation: a null base value is replaced by a child dict
// (mmengine raises TypeError there).
ConfigNode merge_config(const ConfigNode& base, const ConfigNode& child,
                        const std::string& what = "config");

// The YAML text of a tree (block style, keys in tree order). Strings that
// would read back as another type are quoted, floats always read back as
// floats, so read_config_file(save) == tree.
std::string config_to_yaml(const ConfigNode& node);

// Writes the tree to `path` as YAML (.yaml / .yml) or JSON (.json, indent 2).
void save_config(const ConfigNode& node, const std::string& path);

// Resolves one plain (unquoted, untagged) YAML scalar the way the loader does.
ConfigNode resolve_yaml_scalar(const std::string& plain);

}  // namespace instseg
