// Small mmcv sub-configs shared by every builder: norm_cfg, act_cfg, conv_cfg,
// init_cfg.
//
//   NormCfg n = norm_cfg_from(r, "norm_cfg", NormCfg{"BN"});   // absent -> fallback
//   std::string act = act_cfg_from(r, "act_cfg", "relu");      // "none" | "relu"
//   ConvCfg c = conv_cfg_from(r, "conv_cfg", ConvCfg{});       // Conv2d | DCNv2 | DCN
//
// norm_cfg: null -> type "none"; {type: BN | BN2d (-> "BN") | SyncBN | GN,
// requires_grad (default true), num_groups (GN only, required)}.
// act_cfg: null -> "none"; {type: ReLU, inplace} -> "relu". Other mmcv layer
// types are errors listing the supported ones.
#pragma once
#include <cstdint>
#include <string>

#include "instseg/backbone/build_backbone.h"
#include "instseg/config/config_reader.h"

namespace instseg {

struct NormCfg {
  std::string type = "none";  // "none", "BN", "SyncBN", "GN"
  int64_t num_groups = 32;    // GN only
  bool requires_grad = true;
};

// conv_cfg as mmcv's build_conv_layer reads it: null -> "Conv2d"; {type:
// Conv2d | Conv (-> "Conv2d") | DCNv2 | DCN, deform_groups (default 1; the
// deprecated deformable_groups is accepted, not both), im2col_step (DCN only,
// accepted and unused: it only batches mmcv's CUDA im2col)}. The remaining keys
// are the layer's kwargs in mmcv, so anything else is an error here.
struct ConvCfg {
  std::string type = "Conv2d";  // "Conv2d", "DCNv2" (modulated, v2), "DCN" (v1)
  int64_t deform_groups = 1;
  // mmdet ResNet's `dcn` dict only (read when allow_fallback_on_stride): true
  // makes the Bottleneck build a plain conv2 instead (mmdet's semantics, despite
  // the name: it applies to every block, not only strided ones).
  bool fallback_on_stride = false;
  bool deformable() const { return type != "Conv2d"; }
};

// Reads r[key] (registering it); `fallback` when the key is absent. A ResNet
// `dcn` dict passes allow_fallback_on_stride = true.
ConvCfg conv_cfg_from(ConfigReader& r, const std::string& key, const ConvCfg& fallback,
                      bool allow_fallback_on_stride = false);

// Reads r[key] (registering it); `fallback` when the key is absent.
NormCfg norm_cfg_from(ConfigReader& r, const std::string& key, const NormCfg& fallback);

// Reads r[key] (registering it); `fallback` when the key is absent.
std::string act_cfg_from(ConfigReader& r, const std::string& key, const std::string& fallback);

// Registers r["init_cfg"] (mmengine init_cfg: instseg always initialises
// modules itself) and logs a notice when it asks for Pretrained weights
// (a dict or a list of dicts with type 'Pretrained'): instseg loads them on
// the backbone only (pretrained_init_from).
void read_init_cfg(ConfigReader& r, const std::string& key = "init_cfg");

// A backbone's Pretrained weights: r["init_cfg"] = dict(type='Pretrained',
// checkpoint=STR, prefix=None | STR, map_location=...) alone or in a list
// (the other init dicts are instseg's own initialisation), or mmdet's
// deprecated r["pretrained"] = STR (a warning, as mmdet). Both set, more than
// one Pretrained dict, or a missing checkpoint is an error naming the key.
// Only the names are read here; the file is looked up when training starts.
PretrainedInit pretrained_init_from(ConfigReader& r);

}  // namespace instseg
