// The OpenCV-free test preprocessing (inference/preprocess.h) against the
// OpenCV data path that `instseg test` and training use (io/transforms
// Resize + io/collate): the same batch, bit for bit, for up- and downscales,
// the exact 2x downscale (cv2's area path), odd sizes, exact-size resizes and
// no resize.
#include "instseg/inference/preprocess.h"
#include "instseg/io/collate.h"
#include "instseg/io/image.h"
#include "instseg/io/transforms.h"

#include "common/test_util.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

namespace instseg {
namespace {

cv::Mat random_rgb(int h, int w, uint64_t seed) {
  at::manual_seed(static_cast<int64_t>(seed));
  at::Tensor t = at::randint(0, 256, {h, w, 3}, at::kByte);
  return cv::Mat(h, w, CV_8UC3, t.data_ptr<uint8_t>()).clone();
}

at::Tensor as_tensor(const cv::Mat& rgb) {
  return at::from_blob(const_cast<uint8_t*>(rgb.data), {rgb.rows, rgb.cols, 3}, at::kByte).clone();
}

// The io path: Pipeline(Resize) on a Sample, then collate without GT.
Batch opencv_path(const std::vector<cv::Mat>& images, const std::vector<TransformSpec>& pipeline,
                  const CollateOptions& co) {
  std::vector<Sample> samples(images.size());
  const Pipeline p(pipeline);
  for (size_t i = 0; i < images.size(); ++i) {
    Sample& s = samples[i];
    s.image = images[i];
    s.meta.image_id = static_cast<int64_t>(i);
    s.meta.ori_h = s.meta.img_h = s.image.rows;
    s.meta.ori_w = s.meta.img_w = s.image.cols;
    Rng rng(0);
    EXPECT_TRUE(p(s, rng));
  }
  CollateOptions o = co;
  o.with_gt = false;
  o.with_mask = false;
  return collate(samples, o);
}

void expect_same_batch(const Batch& a, const Batch& b) {
  ASSERT_EQ(a.images.sizes(), b.images.sizes());
  EXPECT_TRUE(a.images.equal(b.images)) << "max |diff| " << test::max_abs_diff(a.images, b.images);
  ASSERT_EQ(a.metas.size(), b.metas.size());
  for (size_t i = 0; i < a.metas.size(); ++i) {
    const ImageMeta &x = a.metas[i], &y = b.metas[i];
    EXPECT_EQ(x.image_id, y.image_id);
    EXPECT_EQ(x.ori_h, y.ori_h);
    EXPECT_EQ(x.ori_w, y.ori_w);
    EXPECT_EQ(x.img_h, y.img_h);
    EXPECT_EQ(x.img_w, y.img_w);
    EXPECT_EQ(x.pad_h, y.pad_h);
    EXPECT_EQ(x.pad_w, y.pad_w);
    EXPECT_EQ(x.scale_w, y.scale_w);
    EXPECT_EQ(x.scale_h, y.scale_h);
  }
}

TEST(TestPreprocess, EqualsTheOpenCvPathBitForBit) {
  const PreprocessOptions model_pre;  // mmdet's ImageNet mean/std, pad 32
  const CollateOptions co;            // the same defaults
  struct Case {
    int h, w;
    TestResize r;
  };
  const std::vector<Case> cases = {
      {360, 480, {1333, 800, true}},   // upscale
      {1200, 1600, {1333, 800, true}}, // downscale
      {512, 640, {320, 256, true}},    // exact 2x downscale: cv2's INTER_AREA fast path
      {37, 101, {333, 200, true}},     // odd sizes
      {50, 70, {64, 48, false}},       // exact size, aspect changed
      {256, 256, {256, 256, true}},    // identity
  };
  for (size_t c = 0; c < cases.size(); ++c) {
    SCOPED_TRACE(c);
    const Case& k = cases[c];
    const cv::Mat img = random_rgb(k.h, k.w, 100 + c);
    const TestPreprocess tp = test_preprocess_from(model_pre, k.r);
    ResizeOptions ro;
    ro.scale = {k.r.scale_w, k.r.scale_h};
    ro.keep_ratio = k.r.keep_ratio;
    expect_same_batch(preprocess_tensors({as_tensor(img)}, tp), opencv_path({img}, {TransformSpec{ro}}, co));
  }
  // A real image, and two images of different sizes in one padded batch.
  const cv::Mat nuc = read_image_rgb(std::string(INSTSEG_SOURCE_DIR) +
                                     "/data/nuclei/images/c8e79ff4ac55f4b772057de28e539727b7f4f2a3de73bf7a082a0ace86d609eb.png");
  const cv::Mat small = random_rgb(90, 130, 7);
  const TestPreprocess tp = test_preprocess_from(model_pre, TestResize{1333, 800, true});
  expect_same_batch(preprocess_tensors({as_tensor(nuc), as_tensor(small)}, tp),
                    opencv_path({nuc, small}, test_pipeline(), co));
  // No resize at all.
  expect_same_batch(preprocess_tensors({as_tensor(small)}, test_preprocess_from(model_pre, nullopt)),
                    opencv_path({small}, {}, co));
}

TEST(TestPreprocess, ChecksItsInputs) {
  const TestPreprocess tp;
  EXPECT_THROW(preprocess_tensors({at::zeros({4, 4}, at::kByte)}, tp), c10::Error);
  EXPECT_THROW(preprocess_tensors({at::zeros({4, 4, 3}, at::kFloat)}, tp), c10::Error);
  EXPECT_THROW(preprocess_tensors({at::zeros({0, 4, 3}, at::kByte)}, tp), c10::Error);
  EXPECT_THROW(preprocess_tensors({at::zeros({4, 4, 3}, at::kByte)}, tp, {1, 2}), c10::Error);
  PreprocessOptions bgr;
  bgr.bgr_to_rgb = false;
  EXPECT_THROW(test_preprocess_from(bgr, nullopt), c10::Error);
  // Non-contiguous input (a crop view) is fine.
  const at::Tensor big = at::randint(0, 256, {40, 60, 3}, at::kByte);
  const at::Tensor view = big.narrow(0, 5, 20).narrow(1, 7, 30);
  EXPECT_TRUE(preprocess_tensors({view}, tp).images.equal(preprocess_tensors({view.contiguous()}, tp).images));
}

}  // namespace
}  // namespace instseg
