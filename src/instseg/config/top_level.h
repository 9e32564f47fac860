// Top-level sections of an mmdetection-style config.
//
// instseg uses model, train_cfg/val_cfg/test_cfg, optim_wrapper,
// param_scheduler, the dataloaders/evaluators/pipelines and a few scalars
// (work_dir, load_from, resume, randomness, ...; see kUsedTopLevelKeys in the
// .cpp). Sections it has no equivalent for (default_hooks, custom_hooks,
// visualizer, vis_backends, log_processor, ...) are ignored with ONE info
// notice listing them. `pretty_text` (the mmengine config text stored in the
// fixtures' config.json) is ignored silently.
#pragma once
#include <string>
#include <vector>

#include "instseg/config/config_tree.h"

namespace instseg {

// True for a top-level key instseg reads (some component may read it).
bool is_used_top_level_key(const std::string& key);

// The keys above plus the mmengine sections instseg knows and ignores.
std::vector<std::string> known_top_level_keys();

// `--cfg-options` items whose top-level key is neither in `cfg` nor a section
// instseg reads or knows are errors naming the key and the closest candidate:
//   "config: --cfg-options train_cgf.max_epochs=1: unknown top-level key
//    'train_cgf' (did you mean 'train_cfg'?)"
// (mmengine would silently add the key; a typo then trains with defaults).
void check_override_top_level_keys(const ConfigNode& cfg, const std::vector<std::string>& items);

// Errors unless `cfg` is a dict; logs one notice naming the ignored sections
// (none when there are none) and returns them in file order.
std::vector<std::string> check_top_level(const ConfigNode& cfg);

}  // namespace instseg
