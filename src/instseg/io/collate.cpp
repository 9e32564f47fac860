#include "instseg/io/collate.h"

#include <ATen/ATen.h>

#include <cstring>

#include "instseg/core/check.h"

namespace instseg {

at::Tensor normalize_image(const cv::Mat& rgb, const CollateOptions& o) {
  INSTSEG_CHECK(rgb.type() == CV_8UC3, "normalize_image: expected an 8-bit 3-channel image");
  cv::Mat c = rgb.isContinuous() ? rgb : rgb.clone();
  const at::Tensor hwc = at::from_blob(c.data, {c.rows, c.cols, 3}, at::kByte);
  const at::Tensor mean = at::tensor({o.mean[0], o.mean[1], o.mean[2]}, at::kDouble).to(at::kFloat);
  const at::Tensor stdv = at::tensor({o.std[0], o.std[1], o.std[2]}, at::kDouble).to(at::kFloat);
  return hwc.permute({2, 0, 1})
      .to(at::kFloat)
      .sub(mean.view({3, 1, 1}))
      .div(stdv.view({3, 1, 1}))
      .contiguous();
}

Batch collate(const std::vector<Sample>& samples, const CollateOptions& o) {
  INSTSEG_CHECK(!samples.empty(), "collate: empty batch");
  INSTSEG_CHECK(o.size_divisor >= 1, "collate: size_divisor must be >= 1");
  int64_t max_h = 0, max_w = 0;
  for (const auto& s : samples) {
    max_h = std::max<int64_t>(max_h, s.image.rows);
    max_w = std::max<int64_t>(max_w, s.image.cols);
  }
  const int64_t d = o.size_divisor;
  const int64_t pad_h = (max_h + d - 1) / d * d, pad_w = (max_w + d - 1) / d * d;
  const auto b = static_cast<int64_t>(samples.size());

  Batch batch;
  batch.images = at::full({b, 3, pad_h, pad_w}, o.pad_value, at::kFloat);
  for (int64_t i = 0; i < b; ++i) {
    const Sample& s = samples[static_cast<size_t>(i)];
    const int64_t h = s.image.rows, w = s.image.cols;
    batch.images[i].narrow(1, 0, h).narrow(2, 0, w).copy_(normalize_image(s.image, o));
    ImageMeta meta = s.meta;
    meta.img_h = h;
    meta.img_w = w;
    meta.pad_h = pad_h;
    meta.pad_w = pad_w;
    batch.metas.push_back(meta);
    if (!o.with_gt) continue;

    std::vector<size_t> keep;
    for (size_t k = 0; k < s.num_instances(); ++k)
      if (!s.ignore[k]) keep.push_back(k);
    const auto n = static_cast<int64_t>(keep.size());
    GtInstances gt;
    gt.bboxes = at::empty({n, 4}, at::kFloat);
    gt.labels = at::empty({n}, at::kLong);
    auto* pb = gt.bboxes.data_ptr<float>();
    auto* pl = gt.labels.data_ptr<int64_t>();
    const bool with_masks = o.with_mask;
    if (with_masks) {
      INSTSEG_CHECK(s.masks.size() == s.num_instances(), s.meta.file, ": ", s.masks.size(),
                    " masks for ", s.num_instances(), " instances (dataset loaded without masks?)");
      gt.masks = at::zeros({n, pad_h, pad_w}, at::kByte);
    }
    for (int64_t j = 0; j < n; ++j) {
      const size_t k = keep[static_cast<size_t>(j)];
      std::memcpy(pb + 4 * j, s.boxes[k].data(), 4 * sizeof(float));
      pl[j] = s.labels[k];
      if (!with_masks) continue;
      const cv::Mat& m = s.masks[k];
      INSTSEG_CHECK(m.rows == h && m.cols == w && m.type() == CV_8UC1, s.meta.file,
                    ": mask ", k, " is ", m.cols, "x", m.rows, ", image is ", w, "x", h);
      uint8_t* dst = gt.masks.data_ptr<uint8_t>() + j * pad_h * pad_w;
      for (int64_t y = 0; y < h; ++y)
        std::memcpy(dst + y * pad_w, m.ptr<uint8_t>(static_cast<int>(y)), static_cast<size_t>(w));
    }
    batch.gts.push_back(std::move(gt));
  }
  return batch;
}

}  // namespace instseg
