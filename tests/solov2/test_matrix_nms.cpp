#include "instseg/solov2/matrix_nms.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

namespace instseg {
namespace {

// Three 1x8 masks: A = px 0..3, B = px 2..5 (IoU(A,B) = 2/6), C = px 4..7 (IoU(B,C) = 2/6, IoU(A,C) = 0).
at::Tensor three_masks() {
  at::Tensor m = at::zeros({3, 1, 8}, at::kByte);
  m[0].slice(1, 0, 4).fill_(1);
  m[1].slice(1, 2, 6).fill_(1);
  m[2].slice(1, 4, 8).fill_(1);
  return m;
}

TEST(MatrixNMS, TwoOverlappingMasksGaussianDecay) {
  at::Tensor masks = three_masks().slice(0, 0, 2);
  at::Tensor labels = at::tensor({0, 0}, at::kLong);
  at::Tensor scores = at::tensor({0.8f, 0.9f});  // B first in input order, A scores higher
  MatrixNMSOptions o;
  o.sigma = 2.0;
  MatrixNMSResult r = mask_matrix_nms(masks, labels, scores, o);
  ASSERT_EQ(r.scores.size(0), 2);
  // A (input 1) keeps 0.9; B decays by exp(-2 * (1/3)^2) / exp(0) = 0.8007374.
  EXPECT_EQ(r.keep_inds[0].item<int64_t>(), 1);
  EXPECT_NEAR(r.scores[0].item<double>(), 0.9, 1e-7);
  EXPECT_NEAR(r.scores[1].item<double>(), 0.8 * std::exp(-2.0 / 9.0), 1e-6);
  EXPECT_NEAR(r.scores[1].item<double>(), 0.6405899, 1e-6);
  // Linear kernel: 1 - 1/3.
  o.kernel = "linear";
  r = mask_matrix_nms(masks, labels, scores, o);
  EXPECT_NEAR(r.scores[1].item<double>(), 0.8 * 2.0 / 3.0, 1e-6);
  // Different classes do not suppress each other.
  r = mask_matrix_nms(masks, at::tensor({0, 1}, at::kLong), scores, o);
  EXPECT_NEAR(r.scores[1].item<double>(), 0.8, 1e-7);
}

TEST(MatrixNMS, CompensationAndFilters) {
  at::Tensor masks = three_masks();
  at::Tensor labels = at::zeros({3}, at::kLong);
  at::Tensor scores = at::tensor({0.9f, 0.8f, 0.7f});
  MatrixNMSOptions o;
  MatrixNMSResult r = mask_matrix_nms(masks, labels, scores, o);
  // C overlaps only B, and B is itself overlapped by A with the same IoU: the
  // compensation exp(-2 iou^2)/exp(-2 comp_B^2) = 1 leaves C undecayed.
  ASSERT_EQ(r.scores.size(0), 3);
  EXPECT_NEAR(r.scores[0].item<double>(), 0.9, 1e-7);
  EXPECT_NEAR(r.scores[1].item<double>(), 0.7, 1e-6);  // C now ranks above decayed B
  EXPECT_EQ(r.keep_inds[1].item<int64_t>(), 2);
  EXPECT_NEAR(r.scores[2].item<double>(), 0.8 * std::exp(-2.0 / 9.0), 1e-6);
  EXPECT_EQ(r.masks.sizes(), (std::vector<int64_t>{3, 1, 8}));
  // filter_thr drops decayed B; max_num truncates; nms_pre drops the lowest input.
  o.filter_thr = 0.65;
  r = mask_matrix_nms(masks, labels, scores, o);
  EXPECT_EQ(r.keep_inds.size(0), 2);
  o.filter_thr = -1;
  o.max_num = 1;
  r = mask_matrix_nms(masks, labels, scores, o);
  EXPECT_EQ(r.keep_inds.size(0), 1);
  o.max_num = -1;
  o.nms_pre = 2;
  r = mask_matrix_nms(masks, labels, scores, o);
  EXPECT_EQ(r.keep_inds.size(0), 2);
  // Everything filtered, or no input: empty results, no error.
  o.filter_thr = 0.95;
  EXPECT_EQ(mask_matrix_nms(masks, labels, scores, o).scores.size(0), 0);
  EXPECT_EQ(mask_matrix_nms(masks.slice(0, 0, 0), labels.slice(0, 0, 0), scores.slice(0, 0, 0), o).masks.size(0), 0);
  o.kernel = "box";
  EXPECT_THROW(mask_matrix_nms(masks, labels, scores, o), c10::Error);
}

}  // namespace
}  // namespace instseg
