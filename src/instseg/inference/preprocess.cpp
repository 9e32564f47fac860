#include "instseg/inference/preprocess.h"

#include "instseg/core/check.h"
#include "instseg/ops/resize.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace instseg {

TestPreprocess test_preprocess_from(const PreprocessOptions& p, optional<TestResize> resize) {
  INSTSEG_CHECK(p.bgr_to_rgb, "data_preprocessor.bgr_to_rgb = False is not supported (images are decoded as RGB)");
  INSTSEG_CHECK(p.mean.size() == 3 && p.std.size() == 3, "data_preprocessor: mean and std need 3 values");
  TestPreprocess t;
  t.resize = resize;
  for (size_t c = 0; c < 3; ++c) {
    t.mean[c] = p.mean[c];
    t.std[c] = p.std[c];
  }
  t.size_divisor = p.pad_size_divisor;
  t.pad_value = p.pad_value;
  return t;
}

at::Tensor resize_for_test(const at::Tensor& rgb, const TestPreprocess& p, ImageMeta* meta) {
  INSTSEG_CHECK(rgb.defined() && rgb.dim() == 3 && rgb.size(2) == 3 && rgb.scalar_type() == at::kByte,
                "expected a decoded RGB image as uint8 [H,W,3], got ",
                rgb.defined() ? rgb.sizes() : at::IntArrayRef{}, " ",
                rgb.defined() ? c10::toString(rgb.scalar_type()) : "undefined");
  INSTSEG_CHECK(rgb.size(0) > 0 && rgb.size(1) > 0, "empty image ", rgb.size(1), "x", rgb.size(0));
  const at::Tensor src = rgb.to(at::kCPU).contiguous();
  const int64_t h = src.size(0), w = src.size(1);
  meta->ori_h = meta->img_h = h;
  meta->ori_w = meta->img_w = w;
  meta->scale_w = meta->scale_h = 1.0;
  if (!p.resize) return src;
  int64_t new_w = p.resize->scale_w, new_h = p.resize->scale_h;
  if (p.resize->keep_ratio) keep_ratio_size(w, h, p.resize->scale_w, p.resize->scale_h, &new_w, &new_h);
  INSTSEG_CHECK(new_w > 0 && new_h > 0, "resize: bad target size ", new_w, "x", new_h);
  // mmcv.imresize (cv2 INTER_LINEAR) and the scale factor mmdet's Resize records.
  at::Tensor out = cv_resize_bilinear_u8(src, new_h, new_w);
  meta->img_w = new_w;
  meta->img_h = new_h;
  meta->scale_w = static_cast<double>(new_w) / static_cast<double>(w);
  meta->scale_h = static_cast<double>(new_h) / static_cast<double>(h);
  return out;
}

Batch collate_tensors(const std::vector<at::Tensor>& resized, std::vector<ImageMeta> metas,
                      const TestPreprocess& p) {
  INSTSEG_CHECK(!resized.empty(), "collate: empty batch");
  INSTSEG_CHECK(resized.size() == metas.size(), "collate: ", resized.size(), " images, ", metas.size(), " metas");
  INSTSEG_CHECK(p.size_divisor >= 1, "collate: size_divisor must be >= 1");
  int64_t max_h = 0, max_w = 0;
  for (const at::Tensor& t : resized) {
    max_h = std::max<int64_t>(max_h, t.size(0));
    max_w = std::max<int64_t>(max_w, t.size(1));
  }
  const int64_t d = p.size_divisor;
  const int64_t pad_h = (max_h + d - 1) / d * d, pad_w = (max_w + d - 1) / d * d;
  const auto b = static_cast<int64_t>(resized.size());
  // The same float32 operations as io/collate's normalize_image, so both
  // paths give the same bits.
  const at::Tensor mean = at::tensor({p.mean[0], p.mean[1], p.mean[2]}, at::kDouble).to(at::kFloat);
  const at::Tensor stdv = at::tensor({p.std[0], p.std[1], p.std[2]}, at::kDouble).to(at::kFloat);
  Batch batch;
  batch.images = at::full({b, 3, pad_h, pad_w}, p.pad_value, at::kFloat);
  for (int64_t i = 0; i < b; ++i) {
    const at::Tensor& hwc = resized[static_cast<size_t>(i)];
    const int64_t h = hwc.size(0), w = hwc.size(1);
    const at::Tensor chw =
        hwc.permute({2, 0, 1}).to(at::kFloat).sub(mean.view({3, 1, 1})).div(stdv.view({3, 1, 1})).contiguous();
    batch.images[i].narrow(1, 0, h).narrow(2, 0, w).copy_(chw);
    ImageMeta& m = metas[static_cast<size_t>(i)];
    m.img_h = h;
    m.img_w = w;
    m.pad_h = pad_h;
    m.pad_w = pad_w;
  }
  batch.metas = std::move(metas);
  return batch;
}

Batch preprocess_tensors(const std::vector<at::Tensor>& rgb, const TestPreprocess& p,
                         const std::vector<int64_t>& image_ids) {
  INSTSEG_CHECK(image_ids.empty() || image_ids.size() == rgb.size(), "preprocess: ", image_ids.size(),
                " image ids for ", rgb.size(), " images");
  std::vector<at::Tensor> resized;
  std::vector<ImageMeta> metas(rgb.size());
  for (size_t i = 0; i < rgb.size(); ++i) {
    metas[i].image_id = image_ids.empty() ? static_cast<int64_t>(i) : image_ids[i];
    resized.push_back(resize_for_test(rgb[i], p, &metas[i]));
  }
  return collate_tensors(resized, std::move(metas), p);
}

}  // namespace instseg
