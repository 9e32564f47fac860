// make_prediction and filter_by_score: threshold, names, RLE, dropped masks.
#include "instseg/eval/rle.h"
#include "instseg/inference/predict_batch.h"
#include "instseg/inference/prediction.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

namespace instseg {
namespace {

Instances three(int64_t h, int64_t w) {
  Instances d;
  d.image_id = 5;
  d.labels = at::tensor({2, 0, 7}, at::kLong);
  d.scores = at::tensor({0.9f, 0.5f, 0.2f});
  d.bboxes = at::tensor({1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f, 8.f, 9.f, 10.f, 11.f, 12.f}).view({3, 4});
  d.masks = at::zeros({3, h, w}, at::kByte);
  d.masks[0].narrow(0, 1, 2).narrow(1, 0, 3).fill_(1);
  d.masks[1][h - 1][w - 1] = 1;
  return d;
}

TEST(Prediction, FiltersNamesAndEncodes) {
  ImageMeta meta;
  meta.ori_h = 4;
  meta.ori_w = 6;
  PredictionOptions o;
  o.score_thr = 0.3;
  o.rle = true;
  const Prediction p = make_prediction(three(4, 6), meta, {"a", "b", "c"}, o);
  ASSERT_EQ(p.size(), 2);  // 0.2 < 0.3
  EXPECT_EQ(p.image_id, 5);
  EXPECT_EQ(p.height, 4);
  EXPECT_EQ(p.width, 6);
  EXPECT_EQ(p.class_names, (std::vector<std::string>{"c", "a"}));
  EXPECT_TRUE(p.boxes.equal(at::tensor({1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f, 8.f}).view({2, 4})));
  ASSERT_EQ(p.rles.size(), 2u);
  for (int64_t k = 0; k < 2; ++k) {
    at::Tensor m = at::empty({4, 6}, at::kByte);
    rle::decode(rle::from_string(p.rles[k], 4, 6), m.data_ptr<uint8_t>());
    EXPECT_TRUE(m.equal(p.masks[k])) << k;
  }
  // Column-major runs, pycocotools' string: mask 1 is the last pixel only.
  EXPECT_EQ(p.rles[1], rle::to_string(rle::from_counts({23, 1}, 4, 6)));

  // A label beyond the names; masks dropped on request; nothing above the threshold.
  o.masks = false;
  o.score_thr = 0.1;
  const Prediction q = make_prediction(three(4, 6), meta, {"a"}, o);
  EXPECT_EQ(q.class_names, (std::vector<std::string>{"class 2", "a", "class 7"}));
  EXPECT_FALSE(q.masks.defined());
  EXPECT_EQ(q.rles.size(), 3u);
  o.score_thr = 0.95;
  const Prediction none = make_prediction(three(4, 6), meta, {"a"}, o);
  EXPECT_EQ(none.size(), 0);
  EXPECT_EQ(none.boxes.sizes(), (at::IntArrayRef{0, 4}));

  // Masks of the wrong size are an error.
  meta.ori_w = 5;
  EXPECT_THROW(make_prediction(three(4, 6), meta, {}, PredictionOptions{}), c10::Error);
}

TEST(Prediction, ToInstancesRoundTrips) {
  ImageMeta meta;
  meta.ori_h = 4;
  meta.ori_w = 6;
  const Prediction p = make_prediction(three(4, 6), meta, {}, PredictionOptions{});
  const Instances i = to_instances(p);
  EXPECT_EQ(i.image_id, 5);
  EXPECT_TRUE(i.masks.equal(p.masks));
  EXPECT_TRUE(i.bboxes.equal(p.boxes));
  EXPECT_EQ(filter_by_score(i, 0.6).size(), 1);
}

}  // namespace
}  // namespace instseg
