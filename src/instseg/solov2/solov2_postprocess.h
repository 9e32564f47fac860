// SOLOv2 inference post-processing (mmdet SOLOV2Head.predict_by_feat and
// _predict_by_feat_single), per image of a padded batch:
//  1. sigmoid + 2x2 point NMS on each level's scores; flatten levels (row-major);
//  2. (cell, class) pairs with score > score_thr; dynamic conv -> soft masks at 1/4;
//  3. binary = soft > mask_thr; keep if pixel count > level stride;
//  4. maskness rescoring; Matrix NMS;
//  5. soft masks -> bilinear to the padded input -> crop img_shape ->
//     bilinear to ori_shape -> > mask_thr. Boxes are the final masks' extents.
#pragma once
#include "instseg/solov2/options.h"
#include "instseg/solov2/solov2_head.h"
#include "instseg/structures/instances.h"
#include "instseg/structures/tensor_dict.h"

#include <vector>

namespace instseg {

// outputs: head outputs for a batch; metas: one per image (img_h/img_w,
// ori_h/ori_w). `debug`, when set, receives image 0's intermediate tensors
// under mmdet-fixture names: post.cls_scores_after_point_nms,
// post.nms_in.{masks,labels,scores,mask_area}, post.nms_out.{scores,labels,keep_inds},
// post.mask_preds_kept_soft.
std::vector<Instances> solov2_postprocess(const SOLOv2HeadOutputs& outputs, const std::vector<ImageMeta>& metas,
                                          const SOLOv2HeadOptions& options, TensorDict* debug = nullptr);

// Tight xyxy boxes of binary masks [K,H,W] (x2 = last column + 1); zeros for empty masks.
at::Tensor masks_to_boxes_xyxy(const at::Tensor& masks);

}  // namespace instseg
