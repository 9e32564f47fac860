// cv_resize_bilinear_u8 must equal OpenCV's cv::resize(INTER_LINEAR) bit for
// bit (mmcv.imrescale builds SOLOv2's mask targets with it).
#include "instseg/ops/resize.h"

#include "common/test_util.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <cstdlib>
#include <iostream>
#include <random>

namespace instseg {
namespace {

at::Tensor cv_reference(const at::Tensor& src, int64_t out_h, int64_t out_w) {
  at::Tensor s = src.contiguous();
  const int cn = s.dim() == 3 ? static_cast<int>(s.size(2)) : 1;
  cv::Mat m(static_cast<int>(s.size(0)), static_cast<int>(s.size(1)), CV_8UC(cn), s.data_ptr<uint8_t>());
  cv::Mat out;
  cv::resize(m, out, cv::Size(static_cast<int>(out_w), static_cast<int>(out_h)), 0, 0, cv::INTER_LINEAR);
  std::vector<int64_t> shape{out_h, out_w};
  if (s.dim() == 3) shape.push_back(cn);
  return at::from_blob(out.data, shape, at::kByte).clone();
}

int64_t count_diff(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor ne = a.ne(b);
  const int64_t n = ne.sum().item<int64_t>();
  if (n > 0 && std::getenv("INSTSEG_RESIZE_DEBUG")) {
    at::Tensor idx = ne.nonzero();
    for (int64_t i = 0; i < std::min<int64_t>(idx.size(0), 5); ++i) {
      auto r = idx[i];
      std::cerr << "mismatch at " << r << " ours " << a.index({r[0], r[1]}) << " ref " << b.index({r[0], r[1]}) << "\n";
    }
  }
  return n;
}

TEST(CvResize, HandComputedQuarter) {
  // Scale 1/4: output pixel = mean of source pixels 4d+1 and 4d+2 on both axes.
  at::Tensor src = at::zeros({8, 8}, at::kByte);
  src.index_put_({at::indexing::Slice(1, 3), at::indexing::Slice(1, 3)}, 100);
  src[1][1] = 0;  // (0+100+100+100)/4 = 75
  at::Tensor out = cv_resize_bilinear_u8(src, 2, 2);
  EXPECT_EQ(out[0][0].item<int>(), 75);
  EXPECT_EQ(out[0][1].item<int>(), 0);
  EXPECT_EQ(out[1][1].item<int>(), 0);
}

TEST(CvResize, RandomImagesMatchOpenCV) {
  std::mt19937 rng(7767517);
  std::uniform_int_distribution<int> dim(1, 70);
  at::manual_seed(1);
  int64_t cases = 0;
  for (int t = 0; t < 300; ++t) {
    const int64_t h = dim(rng), w = dim(rng), oh = dim(rng), ow = dim(rng);
    const int64_t cn = (t % 3 == 0) ? 3 : 1;
    at::Tensor src = cn == 1 ? at::randint(0, 256, {h, w}, at::kByte) : at::randint(0, 256, {h, w, cn}, at::kByte);
    at::Tensor ours = cv_resize_bilinear_u8(src, oh, ow);
    at::Tensor ref = cv_reference(src, oh, ow);
    ASSERT_EQ(count_diff(ours, ref), 0) << h << "x" << w << "x" << cn << " -> " << oh << "x" << ow;
    ++cases;
  }
  EXPECT_EQ(cases, 300);
}

TEST(CvResize, MasksImrescaleQuarterMatchOpenCV) {
  // Binary {0,1} masks at mask-target sizes, incl. non-multiples of 4 and the exact 2x path.
  std::mt19937 rng(4321);
  const std::vector<std::pair<int64_t, int64_t>> sizes{
      {288, 384}, {800, 1216}, {281, 375}, {37, 53}, {100, 100}, {64, 96}, {427, 640}, {3, 5}};
  for (auto [h, w] : sizes) {
    for (double scale : {0.25, 0.5, 0.125, 2.0, 0.3}) {
      // A blobby mask: thresholded smoothed noise, then {0,1}.
      at::Tensor noise = at::rand({1, 1, std::max<int64_t>(h / 8, 1), std::max<int64_t>(w / 8, 1)});
      at::Tensor up = at::upsample_bilinear2d(noise, {h, w}, false);
      at::Tensor mask = up.gt(0.5).to(at::kByte).view({h, w});
      int64_t oh, ow;
      cv_rescale_size(h, w, scale, &oh, &ow);
      if (oh == 0 || ow == 0) continue;
      at::Tensor ours = cv_resize_bilinear_u8(mask, oh, ow);
      at::Tensor ref = cv_reference(mask, oh, ow);
      ASSERT_EQ(count_diff(ours, ref), 0) << h << "x" << w << " scale " << scale;
      // 0/255 masks stress the rounding more.
      at::Tensor m255 = mask * 255;
      ASSERT_EQ(count_diff(cv_resize_bilinear_u8(m255, oh, ow), cv_reference(m255, oh, ow)), 0)
          << h << "x" << w << " scale " << scale << " (0/255)";
    }
  }
  (void)rng;
}

TEST(CvResize, StackAndRescaleSize) {
  int64_t oh, ow;
  cv_rescale_size(281, 375, 0.25, &oh, &ow);
  EXPECT_EQ(oh, 70);  // int(70.25 + 0.5)
  EXPECT_EQ(ow, 94);  // int(93.75 + 0.5)
  at::Tensor masks = at::randint(0, 2, {3, 40, 52}, at::kByte);
  at::Tensor out = cv_resize_bilinear_u8_stack(masks, 10, 13);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{3, 10, 13}));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(count_diff(out[i], cv_reference(masks[i], 10, 13)), 0);
  EXPECT_THROW(cv_resize_bilinear_u8(at::zeros({4, 4}, at::kFloat), 2, 2), c10::Error);
}

}  // namespace
}  // namespace instseg
