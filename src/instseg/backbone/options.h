// Constructor options of the backbone and neck, with mmdetection's defaults.
// Field names follow mmdetection's config keys so config parsing is a direct
// mapping (done in src/instseg/config, not here).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace instseg {

// mmdet.models.backbones.ResNet, and ResNeXt (groups > 1; mmdet's ResNeXt is
// the same network with grouped, wider Bottlenecks).
struct ResNetOptions {
  int depth = 50;                       // 18, 34, 50, 101, 152 (ResNeXt: 50, 101, 152)
  int64_t in_channels = 3;
  int64_t stem_channels = -1;           // -1: = base_channels
  int64_t base_channels = 64;
  int num_stages = 4;
  std::vector<int64_t> strides{1, 2, 2, 2};
  std::vector<int64_t> dilations{1, 1, 1, 1};
  std::vector<int64_t> out_indices{0, 1, 2, 3};
  std::string style = "pytorch";        // "pytorch": stride in conv2; "caffe": in conv1
  bool deep_stem = false;               // unsupported -> error
  bool avg_down = false;                // unsupported -> error
  int frozen_stages = -1;               // -1: none; 0: stem; k: stem + layer1..k
  std::string norm_type = "BN";         // norm_cfg.type: "BN" (or "SyncBN", treated as BN)
  bool norm_requires_grad = true;       // norm_cfg.requires_grad
  bool norm_eval = true;                // BN layers stay in eval mode while training
  bool zero_init_residual = true;
  // ResNeXt: conv2 of every Bottleneck has `groups` groups and width
  // floor(planes * base_width / base_channels) * groups (planes when groups == 1).
  int64_t groups = 1;
  int64_t base_width = 4;
  // dcn: conv2 of the Bottlenecks of stage i is deformable when
  // stage_with_dcn[i]: "DCNv2" (ModulatedDeformConv2dPack) or "DCN"
  // (DeformConv2dPack); "Conv2d" = dcn None. Bottleneck only (mmdet asserts it
  // for BasicBlock).
  std::string dcn_type = "Conv2d";
  int64_t dcn_deform_groups = 1;
  std::vector<bool> stage_with_dcn{false, false, false, false};
};

// mmdet.models.necks.FPN
struct FPNOptions {
  std::vector<int64_t> in_channels;     // channels of the backbone outputs
  int64_t out_channels = 256;
  int num_outs = 5;
  int start_level = 0;
  int end_level = -1;                   // -1: last backbone level
  // "none" (False), "on_input" (True / 'on_input'), "on_lateral", "on_output"
  std::string add_extra_convs = "none";
  bool relu_before_extra_convs = false;
  bool no_norm_on_lateral = false;
  std::string upsample_mode = "nearest";  // upsample_cfg.mode
  // Added for completeness (mmdet FPN conv/norm/act cfg; SOLOv2/QueryInst use the defaults):
  std::string norm_type = "none";       // norm_cfg.type: "none", "BN", "GN"
  int64_t norm_num_groups = 32;         // norm_cfg.num_groups for "GN"
  std::string act = "none";             // act_cfg: "none" or "relu"
};

}  // namespace instseg
