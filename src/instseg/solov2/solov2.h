// The SOLOv2 detector (mmdet SOLOv2 = SingleStageInstanceSegmentor):
// ResNet backbone -> FPN neck -> SOLOv2 head. Registered children `backbone`,
// `neck`, `mask_head`, so mmdetection SOLOv2 checkpoints load by key.
// Official SOLO checkpoints (bbox_head./mask_feat_head.) load after
// solov2_rename_official_key().
#pragma once
#include "instseg/backbone/build_backbone.h"
#include "instseg/backbone/fpn.h"
#include "instseg/backbone/options.h"
#include "instseg/models/detector.h"
#include "instseg/solov2/options.h"
#include "instseg/solov2/solov2_head.h"

#include <string>
#include <vector>

namespace instseg {

struct SOLOv2Options {
  BackboneSpec backbone = [] {
    BackboneSpec o;
    o.resnet.depth = 50;
    o.resnet.frozen_stages = 1;
    return o;
  }();
  FPNOptions neck = [] {
    FPNOptions o;
    o.in_channels = {256, 512, 1024, 2048};
    o.out_channels = 256;
    o.start_level = 0;
    o.num_outs = 5;
    return o;
  }();
  SOLOv2HeadOptions mask_head;
};

class SOLOv2Impl : public DetectorImpl {
 public:
  explicit SOLOv2Impl(const SOLOv2Options& options);

  // Losses "loss_mask", "loss_cls" (batch.gts: masks at the padded input size).
  LossMap forward_train(const Batch& batch) override;
  // One Instances per image: masks at ori_shape, boxes from the masks.
  std::vector<Instances> predict(const Batch& batch) override;

  // backbone + neck: P2..P6.
  std::vector<at::Tensor> extract_feat(const at::Tensor& images) override;

  // mask_head.num_classes.
  int64_t num_classes() const override { return options_.mask_head.num_classes; }

  const SOLOv2Options& options() const { return options_; }

  std::shared_ptr<BackboneImpl> backbone;  // build_backbone(options.backbone)
  FPN neck{nullptr};
  SOLOv2Head mask_head{nullptr};

 private:
  SOLOv2HeadOutputs run_head(const Batch& batch);
  SOLOv2Options options_;
};
TORCH_MODULE(SOLOv2);

// Maps an official SOLO (WXinlong/SOLO, mmdet v1) state-dict key to this
// model's key: bbox_head.cate_convs -> mask_head.cls_convs, solo_cate ->
// conv_cls, solo_kernel -> conv_kernel, bbox_head.* -> mask_head.*,
// mask_feat_head.* -> mask_head.mask_feature_head.*, conv_pred.0. -> conv_pred.
// Keys of other modules are returned unchanged.
std::string solov2_rename_official_key(const std::string& key);

}  // namespace instseg
