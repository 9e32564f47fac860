// Small mmcv sub-configs shared by every builder: norm_cfg, act_cfg, init_cfg.
//
//   NormCfg n = norm_cfg_from(r, "norm_cfg", NormCfg{"BN"});   // absent -> fallback
//   std::string act = act_cfg_from(r, "act_cfg", "relu");      // "none" | "relu"
//
// norm_cfg: null -> type "none"; {type: BN | BN2d (-> "BN") | SyncBN | GN,
// requires_grad (default true), num_groups (GN only, required)}.
// act_cfg: null -> "none"; {type: ReLU, inplace} -> "relu". Other mmcv layer
// types are errors listing the supported ones.
#pragma once
#include <cstdint>
#include <string>

#include "instseg/config/config_reader.h"

namespace instseg {

struct NormCfg {
  std::string type = "none";  // "none", "BN", "SyncBN", "GN"
  int64_t num_groups = 32;    // GN only
  bool requires_grad = true;
};

// Reads r[key] (registering it); `fallback` when the key is absent.
NormCfg norm_cfg_from(ConfigReader& r, const std::string& key, const NormCfg& fallback);

// Reads r[key] (registering it); `fallback` when the key is absent.
std::string act_cfg_from(ConfigReader& r, const std::string& key, const std::string& fallback);

// Registers r["init_cfg"] (mmengine init_cfg: instseg always initialises
// modules itself) and logs a notice when it asks for Pretrained weights
// (a dict or a list of dicts with type 'Pretrained'): they are not loaded.
void read_init_cfg(ConfigReader& r, const std::string& key = "init_cfg");

}  // namespace instseg
