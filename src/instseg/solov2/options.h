// Constructor options of the SOLOv2 head, with mmdetection's field names.
// Defaults are the values of configs/solov2/solov2_r50_fpn_1x_coco.py, so a
// default-constructed head is the R50 model's head (80 classes, 512-channel
// towers, 256-channel mask features).
#pragma once
#include "instseg/losses/dice_loss.h"
#include "instseg/losses/focal_loss.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace instseg {

// mmdet MaskFeatModule (SOLOv2's unified mask feature branch).
struct MaskFeatModuleOptions {
  int64_t in_channels = 256;     // SOLOV2Head overrides this with its own in_channels
  int64_t feat_channels = 128;
  int start_level = 0;
  int end_level = 3;             // P2..P5
  int64_t out_channels = 256;    // = D, the dynamic-kernel length (x dynamic_conv_size^2)
  int64_t mask_stride = 4;
  std::string norm_type = "GN";  // norm_cfg.type: "GN", "BN" or "none"
  int64_t num_groups = 32;       // norm_cfg.num_groups
  bool norm_requires_grad = true;
  // conv_cfg of every conv of the branch, conv_pred included (mmdet passes it
  // to all of them): "Conv2d", "DCNv2" (ModulatedDeformConv2dPack) or "DCN"
  // (DeformConv2dPack); deform_groups for the deformable ones.
  std::string conv_type = "Conv2d";
  int64_t deform_groups = 1;
};

// SOLOV2Head.test_cfg
struct SOLOv2TestOptions {
  int64_t nms_pre = 500;
  double score_thr = 0.1;
  double mask_thr = 0.5;
  double filter_thr = 0.05;
  std::string kernel = "gaussian";  // "gaussian" | "linear"
  double sigma = 2.0;
  int64_t max_per_img = 100;
};

// mmdet SOLOV2Head (+ SOLOHead base arguments).
struct SOLOv2HeadOptions {
  int64_t num_classes = 80;
  int64_t in_channels = 256;
  int64_t feat_channels = 512;
  int stacked_convs = 4;
  std::vector<int64_t> strides{8, 8, 16, 32, 32};
  std::vector<std::pair<double, double>> scale_ranges{{1, 96}, {48, 192}, {96, 384}, {192, 768}, {384, 2048}};
  double pos_scale = 0.2;
  std::vector<int64_t> num_grids{40, 36, 24, 16, 12};
  int cls_down_index = 0;        // no effect in SOLOv2
  int64_t dynamic_conv_size = 1;
  std::string norm_type = "GN";  // norm_cfg of the towers
  int64_t num_groups = 32;
  bool norm_requires_grad = true;
  // dcn_cfg: "Conv2d" (None), "DCNv2" or "DCN", for the convs of both towers
  // (kernel and category): all of them with dcn_apply_to_all_conv (SOLOv2),
  // only the last one without (SOLOv2-light).
  std::string dcn_type = "Conv2d";
  int64_t dcn_deform_groups = 1;
  bool dcn_apply_to_all_conv = true;
  MaskFeatModuleOptions mask_feature_head;
  DiceLossOptions loss_mask = [] {
    DiceLossOptions o;
    o.use_sigmoid = true;
    o.loss_weight = 3.0;
    return o;
  }();
  FocalLossOptions loss_cls;     // gamma 2, alpha 0.25, weight 1
  SOLOv2TestOptions test_cfg;

  int num_levels() const { return static_cast<int>(num_grids.size()); }
  int64_t kernel_out_channels() const {
    return mask_feature_head.out_channels * dynamic_conv_size * dynamic_conv_size;
  }
};

}  // namespace instseg
