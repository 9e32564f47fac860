#include "instseg/solov2/solov2_targets.h"

#include "common/test_util.h"
#include "instseg/checkpoint/pth_reader.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace instseg {
namespace {

GtInstances one_box(float x1, float y1, float x2, float y2, int64_t label, int64_t H, int64_t W) {
  GtInstances gt;
  gt.bboxes = at::tensor({x1, y1, x2, y2}).view({1, 4});
  gt.labels = at::tensor({label}, at::kLong);
  gt.masks = at::zeros({1, H, W}, at::kByte);
  gt.masks[0].slice(0, static_cast<int64_t>(y1), static_cast<int64_t>(y2))
      .slice(1, static_cast<int64_t>(x1), static_cast<int64_t>(x2)).fill_(1);
  return gt;
}

TEST(SOLOv2Targets, HandComputedSquare) {
  // 256x256 padded input, feature 64x64. Box = mask = [64,128)^2: sqrt(area) = 64 ->
  // levels 0 (1..96) and 1 (48..192). Centre of mass 95.5.
  //  level 0, S=40: centre cell trunc(95.5/256*40) = 14; region rows
  //    trunc((95.5 -+ 6.4)/256*40) = 13..15 -> 3x3 cells 13..15.
  //  level 1, S=36: centre 13; region 12..14.
  SOLOv2HeadOptions o;
  o.num_classes = 3;
  auto t = solov2_targets_single(one_box(64, 64, 128, 128, 1, 256, 256), 64, 64, o);
  ASSERT_EQ(t.size(), 5u);
  std::vector<int64_t> expect0, expect1;
  for (int i = 13; i <= 15; ++i)
    for (int j = 13; j <= 15; ++j) expect0.push_back(i * 40 + j);
  for (int i = 12; i <= 14; ++i)
    for (int j = 12; j <= 14; ++j) expect1.push_back(i * 36 + j);
  EXPECT_EQ(t[0].pos_index, expect0);
  EXPECT_EQ(t[1].pos_index, expect1);
  EXPECT_EQ(t[2].pos_index.size(), 0u);
  EXPECT_EQ(t[0].labels[14][14].item<int64_t>(), 1);
  EXPECT_EQ(t[0].labels[12][14].item<int64_t>(), 3);  // background = num_classes
  EXPECT_EQ(t[0].labels.ne(3).sum().item<int64_t>(), 9);
  EXPECT_EQ(t[0].pos_mask.sum().item<int64_t>(), 9);
  // Mask target: exact 1/4 rescale of the square = [16,32)^2 at 64x64.
  ASSERT_EQ(t[0].mask_targets.sizes(), (std::vector<int64_t>{9, 64, 64}));
  at::Tensor expected = at::zeros({64, 64}, at::kByte);
  expected.slice(0, 16, 32).slice(1, 16, 32).fill_(1);
  EXPECT_TRUE(t[0].mask_targets[4].equal(expected));
  EXPECT_EQ(t[2].mask_targets.size(0), 0);
}

TEST(SOLOv2Targets, SmallBoxOneCellAndEmptyMask) {
  // 10x10 box at [100,110): level 0 only; centre 104.5 -> cell 16; region (104.5 -+ 1) -> 16..16.
  SOLOv2HeadOptions o;
  auto t = solov2_targets_single(one_box(100, 100, 110, 110, 5, 256, 256), 64, 64, o);
  ASSERT_EQ(t[0].pos_index.size(), 1u);
  EXPECT_EQ(t[0].pos_index[0], 16 * 40 + 16);
  for (int l = 1; l < 5; ++l) EXPECT_TRUE(t[l].pos_index.empty());
  // A GT whose mask is empty is skipped.
  GtInstances gt = one_box(100, 100, 110, 110, 5, 256, 256);
  gt.masks.zero_();
  t = solov2_targets_single(gt, 64, 64, o);
  EXPECT_TRUE(t[0].pos_index.empty());
  EXPECT_EQ(t[0].labels.ne(80).sum().item<int64_t>(), 0);
  // No GT at all.
  GtInstances none;
  none.bboxes = at::zeros({0, 4});
  none.labels = at::zeros({0}, at::kLong);
  none.masks = at::zeros({0, 256, 256}, at::kByte);
  t = solov2_targets_single(none, 64, 64, o);
  for (const auto& lt : t) EXPECT_FALSE(lt.pos_mask.any().item<bool>());
}

TEST(SOLOv2Targets, FixtureParity) {
  INSTSEG_REQUIRE_SHARED();
  TensorDict inputs = load_state_dict(test::shared_path("fixtures/solov2/inputs.pt"));
  TensorDict train = load_state_dict(test::shared_path("fixtures/solov2/train.pt"));
  GtInstances gt;
  gt.bboxes = inputs.at("gt_bboxes_train");
  gt.labels = inputs.at("gt_labels_train");
  gt.masks = inputs.at("gt_masks_train_padded");
  SOLOv2HeadOptions o;
  o.num_classes = 3;
  auto t = solov2_targets_single(gt, 72, 96, o);
  const std::vector<int64_t> npos{22, 29, 15, 9, 0};
  for (int l = 0; l < 5; ++l) {
    const std::string s = std::to_string(l);
    SCOPED_TRACE("level " + s);
    EXPECT_TRUE(t[l].labels.equal(train.at("targets.labels." + s)));
    EXPECT_TRUE(t[l].pos_mask.equal(train.at("targets.pos_masks." + s).to(at::kBool)));
    ASSERT_EQ(static_cast<int64_t>(t[l].pos_index.size()), npos[l]);
    if (train.contains("targets.pos_indexes." + s)) {
      at::Tensor ref_idx = train.at("targets.pos_indexes." + s).to(at::kLong).view(-1);
      EXPECT_TRUE(at::tensor(t[l].pos_index, at::kLong).equal(ref_idx));
    } else {
      EXPECT_EQ(npos[l], 0);  // an empty Python list is not a tensor
    }
    at::Tensor ref_masks = train.at("targets.mask_targets." + s);
    ASSERT_EQ(t[l].mask_targets.sizes(), ref_masks.sizes());
    EXPECT_TRUE(t[l].mask_targets.equal(ref_masks.to(at::kByte)));
  }
}

}  // namespace
}  // namespace instseg
