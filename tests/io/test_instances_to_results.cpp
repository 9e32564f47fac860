// Model outputs -> COCO results entries (io/instances_to_results.h): RLE of
// the masks, COCO ids of the labels, xywh boxes from the masks or the boxes.
#include "instseg/eval/rle.h"
#include "instseg/io/instances_to_results.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace instseg {
namespace {

TEST(InstancesToResults, MasksLabelsScoresAndBoxes) {
  Instances inst;
  inst.image_id = 2;
  inst.labels = at::tensor({1, 0}, at::kLong);
  inst.scores = at::tensor({0.75f, 0.25f});
  inst.bboxes = at::tensor({0.5f, 1.f, 3.25f, 3.f, 0.f, 0.f, 1.f, 1.f}).view({2, 4});
  inst.masks = at::zeros({2, 4, 5}, at::kByte);
  inst.masks[0].slice(0, 1, 3).slice(1, 2, 5).fill_(1);  // rows 1-2, cols 2-4
  std::vector<CocoResult> out;
  append_results(inst, {3, 7}, /*bbox_from_mask=*/true, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].category_id, 7);
  EXPECT_EQ(out[1].category_id, 3);
  EXPECT_EQ(out[0].image_id, 2);
  EXPECT_EQ(out[0].score, 0.75);
  const rle::Rle r = rle::from_string(out[0].segmentation.counts, 4, 5);
  EXPECT_EQ(r.counts, (std::vector<uint32_t>{9, 2, 2, 2, 2, 2, 1}));
  EXPECT_EQ(out[0].bbox[0], 2);
  EXPECT_EQ(out[0].bbox[1], 1);
  EXPECT_EQ(out[0].bbox[2], 3);
  EXPECT_EQ(out[0].bbox[3], 2);
  // Given boxes: xyxy -> xywh in float32.
  out.clear();
  append_results(inst, {3, 7}, /*bbox_from_mask=*/false, &out);
  EXPECT_EQ(out[0].bbox[0], 0.5);
  EXPECT_EQ(out[0].bbox[2], 2.75);
  EXPECT_EQ(out[0].bbox[3], 2);
  EXPECT_THROW(append_results(inst, {3}, true, &out), std::exception);
}

}  // namespace
}  // namespace instseg
