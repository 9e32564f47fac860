#include "instseg/io/transforms.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>

#include "instseg/core/check.h"
#include "instseg/ops/resize.h"

namespace instseg {

void Sample::select(const std::vector<uint8_t>& keep) {
  INSTSEG_CHECK(keep.size() == labels.size(), "Sample::select: ", keep.size(), " flags for ",
                labels.size(), " instances");
  size_t j = 0;
  for (size_t i = 0; i < keep.size(); ++i) {
    if (!keep[i]) continue;
    boxes[j] = boxes[i];
    labels[j] = labels[i];
    ignore[j] = ignore[i];
    if (!masks.empty()) masks[j] = masks[i];
    ++j;
  }
  boxes.resize(j);
  labels.resize(j);
  ignore.resize(j);
  if (!masks.empty()) masks.resize(j);
}

void rescale_size(int64_t w, int64_t h, const Scale& scale, int64_t* new_w, int64_t* new_h) {
  keep_ratio_size(w, h, scale.w, scale.h, new_w, new_h);
}

namespace {

void clip_boxes(Sample& s, float w, float h) {
  for (auto& b : s.boxes) {
    b[0] = std::clamp(b[0], 0.0f, w);
    b[2] = std::clamp(b[2], 0.0f, w);
    b[1] = std::clamp(b[1], 0.0f, h);
    b[3] = std::clamp(b[3], 0.0f, h);
  }
}

// BitmapMasks.get_bboxes: [x_min, y_min, x_max + 1, y_max + 1], zeros when empty.
std::array<float, 4> mask_box(const cv::Mat& m) {
  int x0 = m.cols, y0 = m.rows, x1 = -1, y1 = -1;
  for (int y = 0; y < m.rows; ++y) {
    const uint8_t* row = m.ptr<uint8_t>(y);
    for (int x = 0; x < m.cols; ++x) {
      if (!row[x]) continue;
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
  }
  if (x1 < 0) return {0, 0, 0, 0};
  return {static_cast<float>(x0), static_cast<float>(y0), static_cast<float>(x1 + 1),
          static_cast<float>(y1 + 1)};
}

}  // namespace

void resize_to(Sample& s, int64_t new_w, int64_t new_h, bool clip) {
  INSTSEG_CHECK(new_w > 0 && new_h > 0, "resize: bad target size ", new_w, "x", new_h);
  const int64_t w = s.image.cols, h = s.image.rows;
  cv::Mat out;
  // mmcv.imresize with interpolation='bilinear' is cv2.INTER_LINEAR.
  cv::resize(s.image, out, cv::Size(static_cast<int>(new_w), static_cast<int>(new_h)), 0, 0,
             cv::INTER_LINEAR);
  s.image = out;
  const double w_scale = static_cast<double>(new_w) / static_cast<double>(w);
  const double h_scale = static_cast<double>(new_h) / static_cast<double>(h);
  s.meta.scale_w = w_scale;
  s.meta.scale_h = h_scale;
  s.meta.img_w = new_w;
  s.meta.img_h = new_h;
  // HorizontalBoxes.rescale_: float32 boxes times the float32 factors.
  const float fw = static_cast<float>(w_scale), fh = static_cast<float>(h_scale);
  for (auto& b : s.boxes) {
    b[0] *= fw;
    b[2] *= fw;
    b[1] *= fh;
    b[3] *= fh;
  }
  if (clip) clip_boxes(s, static_cast<float>(new_w), static_cast<float>(new_h));
  // BitmapMasks.rescale / resize: nearest neighbour to the image's new size.
  for (auto& m : s.masks) {
    if (m.empty()) continue;
    cv::Mat r;
    cv::resize(m, r, cv::Size(static_cast<int>(new_w), static_cast<int>(new_h)), 0, 0,
               cv::INTER_NEAREST);
    m = r;
  }
}

void resize(Sample& s, const Scale& scale, bool keep_ratio, bool clip) {
  int64_t new_w = scale.w, new_h = scale.h;
  if (keep_ratio) rescale_size(s.image.cols, s.image.rows, scale, &new_w, &new_h);
  resize_to(s, new_w, new_h, clip);
}

const char* flip_direction_name(FlipDirection d) {
  switch (d) {
    case FlipDirection::horizontal: return "horizontal";
    case FlipDirection::vertical: return "vertical";
    case FlipDirection::diagonal: return "diagonal";
  }
  return "?";
}

void flip(Sample& s, FlipDirection d) {
  // cv::flip codes: 1 around the vertical axis (mmcv 'horizontal'), 0 around
  // the horizontal axis ('vertical'), -1 both ('diagonal' = np.flip(axis=(0, 1))).
  int code = 1;
  switch (d) {
    case FlipDirection::horizontal: code = 1; break;
    case FlipDirection::vertical: code = 0; break;
    case FlipDirection::diagonal: code = -1; break;
  }
  cv::Mat out;
  cv::flip(s.image, out, code);
  s.image = out;
  const float w = static_cast<float>(s.image.cols), h = static_cast<float>(s.image.rows);
  const bool fx = d != FlipDirection::vertical, fy = d != FlipDirection::horizontal;
  for (auto& b : s.boxes) {
    if (fx) {
      const float x1 = w - b[2], x2 = w - b[0];
      b[0] = x1;
      b[2] = x2;
    }
    if (fy) {
      const float y1 = h - b[3], y2 = h - b[1];
      b[1] = y1;
      b[3] = y2;
    }
  }
  for (auto& m : s.masks) {
    if (m.empty()) continue;
    cv::Mat f;
    cv::flip(m, f, code);
    m = f;
  }
  s.meta.flip = true;
  s.meta.flip_direction = flip_direction_name(d);
}

void flip_horizontal(Sample& s) {
  // Kept for callers that flip twice to undo (tests): toggles meta.flip.
  const bool was = s.meta.flip;
  flip(s, FlipDirection::horizontal);
  s.meta.flip = !was;
  if (was) s.meta.flip_direction.clear();
}

bool crop(Sample& s, int64_t y0, int64_t x0, int64_t h, int64_t w, const RandomCropOptions& o) {
  INSTSEG_CHECK(y0 >= 0 && x0 >= 0 && h > 0 && w > 0 && y0 + h <= s.image.rows &&
                    x0 + w <= s.image.cols,
                "crop: window (", x0, ", ", y0, ", ", w, "x", h, ") outside the ", s.image.cols,
                "x", s.image.rows, " image");
  const cv::Rect roi(static_cast<int>(x0), static_cast<int>(y0), static_cast<int>(w),
                     static_cast<int>(h));
  s.image = s.image(roi).clone();
  s.meta.img_w = w;
  s.meta.img_h = h;
  const float fx = static_cast<float>(x0), fy = static_cast<float>(y0);
  for (auto& b : s.boxes) {
    b[0] -= fx;
    b[2] -= fx;
    b[1] -= fy;
    b[3] -= fy;
  }
  if (o.bbox_clip_border) clip_boxes(s, static_cast<float>(w), static_cast<float>(h));
  // HorizontalBoxes.is_inside.
  std::vector<uint8_t> valid(s.boxes.size());
  bool any = false;
  for (size_t i = 0; i < s.boxes.size(); ++i) {
    const auto& b = s.boxes[i];
    valid[i] = b[0] < static_cast<float>(w) && b[1] < static_cast<float>(h) && b[2] > 0 && b[3] > 0;
    any = any || valid[i];
  }
  if (!any && !o.allow_negative_crop) return false;
  s.select(valid);
  for (auto& m : s.masks) {
    if (!m.empty()) m = m(roi).clone();
  }
  if (o.recompute_bbox) {
    for (size_t i = 0; i < s.masks.size(); ++i)
      if (!s.masks[i].empty()) s.boxes[i] = mask_box(s.masks[i]);
  }
  return true;
}

void hsv_shift(Sample& s, int hue_gain, int saturation_gain, int value_gain) {
  INSTSEG_CHECK(s.image.type() == CV_8UC3, "YOLOXHSVRandomAug: expected an 8-bit 3-channel image");
  cv::Mat hsv;
  cv::cvtColor(s.image, hsv, cv::COLOR_RGB2HSV);
  for (int y = 0; y < hsv.rows; ++y) {
    auto* p = hsv.ptr<cv::Vec3b>(y);
    for (int x = 0; x < hsv.cols; ++x) {
      // numpy int16 arithmetic; Python's % is non-negative for a positive modulus.
      int h = (static_cast<int>(p[x][0]) + hue_gain) % 180;
      if (h < 0) h += 180;
      p[x][0] = static_cast<uint8_t>(h);
      p[x][1] = static_cast<uint8_t>(std::clamp(static_cast<int>(p[x][1]) + saturation_gain, 0, 255));
      p[x][2] = static_cast<uint8_t>(std::clamp(static_cast<int>(p[x][2]) + value_gain, 0, 255));
    }
  }
  cv::Mat out;
  cv::cvtColor(hsv, out, cv::COLOR_HSV2RGB);
  s.image = out;
}

namespace {

bool apply(const std::vector<TransformSpec>& specs, Sample& s, Rng& rng);

struct Apply {
  Sample& s;
  Rng& rng;

  bool operator()(const ResizeOptions& o) const {
    resize(s, o.scale, o.keep_ratio, o.clip_object_border);
    return true;
  }
  bool operator()(const RandomChoiceResizeOptions& o) const {
    INSTSEG_CHECK(!o.scales.empty(), "RandomChoiceResize: no scales");
    const auto i = rng.randint(0, static_cast<int64_t>(o.scales.size()) - 1);
    resize(s, o.scales[static_cast<size_t>(i)], o.keep_ratio, o.clip_object_border);
    return true;
  }
  bool operator()(const RandomResizeOptions& o) const {
    Scale sc;
    if (o.ratio_min > 0 || o.ratio_max > 0) {
      INSTSEG_CHECK(o.scales.size() == 1, "RandomResize: ratio_range needs exactly one scale");
      const double ratio = rng.uniform() * (o.ratio_max - o.ratio_min) + o.ratio_min;
      sc.w = static_cast<int64_t>(static_cast<double>(o.scales[0].w) * ratio);
      sc.h = static_cast<int64_t>(static_cast<double>(o.scales[0].h) * ratio);
    } else {
      INSTSEG_CHECK(o.scales.size() == 2, "RandomResize: needs two scales (a range)");
      const auto& a = o.scales[0];
      const auto& b = o.scales[1];
      sc.w = rng.randint(std::min(a.w, b.w), std::max(a.w, b.w));
      sc.h = rng.randint(std::min(a.h, b.h), std::max(a.h, b.h));
    }
    resize(s, sc, o.keep_ratio, o.clip_object_border);
    return true;
  }
  bool operator()(const RandomFlipOptions& o) const {
    INSTSEG_CHECK(!o.directions.empty(), "RandomFlip: no direction");
    INSTSEG_CHECK(o.probs.empty() || o.probs.size() == o.directions.size(), "RandomFlip: ", o.probs.size(),
                  " probabilities for ", o.directions.size(), " directions");
    // np.random.choice(directions + [None], p=...): the first direction whose
    // cumulative probability exceeds u; past all of them, no flip.
    const double u = rng.uniform();
    double acc = 0;
    for (size_t i = 0; i < o.directions.size(); ++i) {
      acc += o.probs.empty() ? o.prob / static_cast<double>(o.directions.size()) : o.probs[i];
      if (u < acc) {
        flip(s, o.directions[i]);
        return true;
      }
    }
    return true;
  }
  bool operator()(const RandomCropOptions& o) const {
    const int64_t h = s.image.rows, w = s.image.cols;
    int64_t ch = 0, cw = 0;
    using T = RandomCropOptions::Type;
    switch (o.crop_type) {
      case T::absolute:
        ch = std::min(static_cast<int64_t>(o.crop_h), h);
        cw = std::min(static_cast<int64_t>(o.crop_w), w);
        break;
      case T::absolute_range: {
        const auto lo = static_cast<int64_t>(o.crop_h), hi = static_cast<int64_t>(o.crop_w);
        ch = rng.randint(std::min(h, lo), std::min(h, hi));
        cw = rng.randint(std::min(w, lo), std::min(w, hi));
        break;
      }
      case T::relative:
        ch = static_cast<int64_t>(static_cast<double>(h) * o.crop_h + 0.5);
        cw = static_cast<int64_t>(static_cast<double>(w) * o.crop_w + 0.5);
        break;
      case T::relative_range: {
        // np.float32 crop_size + rand * (1 - crop_size), as mmdet computes it.
        const float rh = static_cast<float>(o.crop_h), rw = static_cast<float>(o.crop_w);
        const double fh = rh + rng.uniform() * (1.0 - rh);
        const double fw = rw + rng.uniform() * (1.0 - rw);
        ch = static_cast<int64_t>(static_cast<double>(h) * fh + 0.5);
        cw = static_cast<int64_t>(static_cast<double>(w) * fw + 0.5);
        break;
      }
    }
    ch = std::max<int64_t>(1, std::min(ch, h));
    cw = std::max<int64_t>(1, std::min(cw, w));
    const int64_t y0 = rng.randint(0, std::max<int64_t>(h - ch, 0));
    const int64_t x0 = rng.randint(0, std::max<int64_t>(w - cw, 0));
    return crop(s, y0, x0, ch, cw, o);
  }
  bool operator()(const YOLOXHSVRandomAugOptions& o) const {
    // np.random.uniform(-1, 1, 3) * deltas, times np.random.randint(0, 2, 3),
    // .astype(np.int16) (truncation toward zero).
    double g[3];
    const double deltas[3] = {static_cast<double>(o.hue_delta), static_cast<double>(o.saturation_delta),
                              static_cast<double>(o.value_delta)};
    for (int k = 0; k < 3; ++k) g[k] = (rng.uniform() * 2.0 - 1.0) * deltas[k];
    for (int k = 0; k < 3; ++k) g[k] *= static_cast<double>(rng.randint(0, 1));
    hsv_shift(s, static_cast<int>(g[0]), static_cast<int>(g[1]), static_cast<int>(g[2]));
    return true;
  }
  bool operator()(const RandomChoiceOptions& o) const {
    INSTSEG_CHECK(!o.branches.empty(), "RandomChoice: no branches");
    size_t pick = 0;
    if (o.probs.empty()) {
      pick = static_cast<size_t>(rng.randint(0, static_cast<int64_t>(o.branches.size()) - 1));
    } else {
      INSTSEG_CHECK(o.probs.size() == o.branches.size(), "RandomChoice: ", o.probs.size(),
                    " probs for ", o.branches.size(), " branches");
      double u = rng.uniform(), acc = 0;
      pick = o.branches.size() - 1;
      for (size_t i = 0; i < o.probs.size(); ++i) {
        acc += o.probs[i];
        if (u < acc) {
          pick = i;
          break;
        }
      }
    }
    return apply(o.branches[pick], s, rng);
  }
};

bool apply(const std::vector<TransformSpec>& specs, Sample& s, Rng& rng) {
  for (const auto& spec : specs)
    if (!std::visit(Apply{s, rng}, spec.op)) return false;
  return true;
}

RandomChoiceResizeOptions choice_resize(const std::vector<int64_t>& shorts, int64_t long_edge) {
  RandomChoiceResizeOptions o;
  for (int64_t v : shorts) o.scales.push_back({long_edge, v});
  return o;
}

}  // namespace

Pipeline::Pipeline(std::vector<TransformSpec> specs) : specs_(std::move(specs)) {}

bool Pipeline::operator()(Sample& s, Rng& rng) const {
  try {
    return apply(specs_, s, rng);
  } catch (const std::exception& e) {
    // Name the image: a transform's own message does not know it.
    const std::string what = error_message(e);
    if (s.meta.file.empty() || what.rfind(s.meta.file, 0) == 0) throw;
    fail(s.meta.file, " (", s.meta.ori_w, "x", s.meta.ori_h, "): ", what);
  }
}

std::vector<TransformSpec> test_pipeline(Scale scale) {
  ResizeOptions r;
  r.scale = scale;
  return {TransformSpec{r}};
}

std::vector<TransformSpec> train_pipeline_1x(Scale scale) {
  ResizeOptions r;
  r.scale = scale;
  return {TransformSpec{r}, TransformSpec{RandomFlipOptions{}}};
}

std::vector<TransformSpec> train_pipeline_multiscale(const std::vector<int64_t>& shorts,
                                                     int64_t long_edge) {
  return {TransformSpec{choice_resize(shorts, long_edge)}, TransformSpec{RandomFlipOptions{}}};
}

std::vector<TransformSpec> train_pipeline_queryinst_crop() {
  const std::vector<int64_t> ms = {480, 512, 544, 576, 608, 640, 672, 704, 736, 768, 800};
  RandomCropOptions c;
  c.crop_type = RandomCropOptions::Type::absolute_range;
  c.crop_h = 384;
  c.crop_w = 600;
  c.allow_negative_crop = true;
  RandomChoiceOptions choice;
  choice.branches.push_back({TransformSpec{choice_resize(ms, 1333)}});
  choice.branches.push_back({TransformSpec{choice_resize({400, 500, 600}, 1333)}, TransformSpec{c},
                             TransformSpec{choice_resize(ms, 1333)}});
  return {TransformSpec{RandomFlipOptions{}}, TransformSpec{choice}};
}

}  // namespace instseg
