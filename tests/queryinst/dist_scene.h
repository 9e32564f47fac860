// The scene of the distributed-normaliser test (test_queryinst_distributed):
// a random QueryInst of the fixture architecture and a global batch of two
// images with 1 and 4 GT instances, so that the ranks of a 2-process run have
// different numbers of positives (mmdet's reduce_mean(num_pos) matters only
// then). Shared by the test and queryinst_dist_worker.
#pragma once
#include "instseg/queryinst/queryinst.h"
#include "queryinst/fixture_util.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/utils.h>

#include <string>
#include <vector>

namespace instseg::test {

// GT instances of the global batch's images.
inline const std::vector<int64_t>& dist_scene_gt_counts() {
  static const std::vector<int64_t> counts{1, 4};
  return counts;
}

// The same weights in every process (seeded). Training mode, except the mask
// head's BatchNorm: plain (unsynchronised) BN normalises over each rank's own
// RoIs, so with it N processes differ from one by design, in mmdetection too
// (SyncBN is the remedy); running statistics make each RoI independent.
inline QueryInst dist_scene_model() {
  torch::manual_seed(5);
  QueryInst model(queryinst_fixture_options());
  // float64: 6 cascaded stages amplify float32 rounding differences between
  // a 1-image and a 2-image batch to ~1e-4; in float64 they vanish, so the
  // comparison sees the normaliser and nothing else.
  model->to(at::kDouble);
  model->train();
  for (const auto& m : model->roi_head->mask_head->modules())
    if (m->as<torch::nn::BatchNorm2dImpl>() != nullptr) m->eval();
  return model;
}

// Images `ids` of the global batch, each generated from its own seed so that
// a rank's subset equals the same images of the global batch. Every image is
// padded to the same 64x96, so batching does not change the features.
inline Batch dist_scene_batch(const std::vector<int64_t>& ids) {
  Batch batch;
  std::vector<at::Tensor> images;
  for (const int64_t i : ids) {
    torch::manual_seed(1000 + i);
    images.push_back(at::randn({3, 64, 96}));
    ImageMeta m;
    m.image_id = i;
    m.img_h = 60 - 4 * i;
    m.img_w = 90;
    m.pad_h = 64;
    m.pad_w = 96;
    m.ori_h = 120;
    m.ori_w = 180;
    m.scale_w = 0.5;
    m.scale_h = static_cast<double>(m.img_h) / 120.0;
    batch.metas.push_back(m);
    GtInstances g;
    const int64_t n = dist_scene_gt_counts().at(static_cast<size_t>(i));
    const at::Tensor xy = at::rand({n, 2}) * 40;
    g.bboxes = at::cat({xy, xy + at::rand({n, 2}) * 16 + 8}, 1);
    g.labels = at::randint(0, 3, {n}, at::kLong);
    g.masks = at::zeros({n, 64, 96}, at::kByte);
    for (int64_t k = 0; k < n; ++k) {
      const at::Tensor b = g.bboxes[k].to(at::kLong);
      g.masks[k]
          .slice(0, b[1].item<int64_t>(), b[3].item<int64_t>())
          .slice(1, b[0].item<int64_t>(), b[2].item<int64_t>())
          .fill_(1);
    }
    batch.gts.push_back(g);
  }
  batch.images = at::stack(images).to(at::kDouble);
  for (GtInstances& g : batch.gts) g.bboxes = g.bboxes.to(at::kDouble);
  return batch;
}

// The sum of the "loss" entries (what the trainer back-propagates).
inline at::Tensor dist_scene_total(const LossMap& losses) {
  at::Tensor total = at::zeros({});
  for (const auto& kv : losses)
    if (kv.first.find("loss") != std::string::npos) total = total + kv.second;
  return total;
}

}  // namespace instseg::test
