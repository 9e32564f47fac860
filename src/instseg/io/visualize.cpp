#include "instseg/io/visualize.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "instseg/core/check.h"

namespace instseg {
namespace {

constexpr size_t kPaletteSize = 32;

// HSV (h in [0, 1)) -> RGB bytes.
Rgb hsv_to_rgb(double h, double s, double v) {
  const double h6 = h * 6.0;
  const int i = static_cast<int>(std::floor(h6)) % 6;
  const double f = h6 - std::floor(h6);
  const double p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s);
  double r = 0, g = 0, b = 0;
  switch (i) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
  }
  auto byte = [](double x) { return static_cast<uint8_t>(std::lround(std::clamp(x, 0.0, 1.0) * 255.0)); };
  return {byte(r), byte(g), byte(b)};
}

// Golden-ratio hue steps give neighbours in the list very different hues;
// saturation / value alternate so that the second lap differs from the first.
const std::array<Rgb, kPaletteSize>& palette() {
  static const std::array<Rgb, kPaletteSize> p = [] {
    std::array<Rgb, kPaletteSize> out{};
    double h = 0.0;
    for (size_t i = 0; i < kPaletteSize; ++i) {
      const double s = (i / 8) % 2 == 0 ? 0.85 : 0.6;
      const double v = (i / 16) % 2 == 0 ? 0.95 : 0.75;
      out[i] = hsv_to_rgb(h, s, v);
      h = std::fmod(h + 0.61803398874989485, 1.0);
    }
    return out;
  }();
  return p;
}

cv::Scalar scalar(const Rgb& c) { return cv::Scalar(c[0], c[1], c[2]); }

}  // namespace

size_t instance_palette_size() { return kPaletteSize; }

Rgb instance_color(size_t index) { return palette()[index % kPaletteSize]; }

Rgb color_for(const VisualizeOptions& o, int64_t label, size_t index) {
  if (o.palette.empty()) return instance_color(index);
  Rgb c = o.palette[static_cast<size_t>(std::max<int64_t>(label, 0)) % o.palette.size()];
  // Per-instance variation (mmdet jitters the class colour randomly; a fixed
  // offset pattern keeps overlays reproducible). Instance 0 keeps the colour.
  static const int kOffsets[5][3] = {{0, 0, 0}, {36, -24, 12}, {-30, 30, -18}, {18, 12, -36}, {-18, -36, 30}};
  const int* d = kOffsets[index % 5];
  for (int k = 0; k < 3; ++k) c[k] = static_cast<uint8_t>(std::clamp(static_cast<int>(c[k]) + d[k], 0, 255));
  return c;
}

std::vector<cv::Rect> place_tags(const std::vector<cv::Rect>& anchors, const std::vector<cv::Size>& sizes,
                                 cv::Size image) {
  if (anchors.size() != sizes.size())
    fail("place_tags: ", anchors.size(), " anchors but ", sizes.size(), " sizes");
  const cv::Rect frame(0, 0, image.width, image.height);
  std::vector<cv::Rect> placed(anchors.size());
  std::vector<cv::Rect> taken;
  taken.reserve(anchors.size());
  std::vector<cv::Point> cand;
  for (size_t i = 0; i < anchors.size(); ++i) {
    const cv::Rect& a = anchors[i];
    // A tag wider than the image is clipped (its text runs off the edge).
    const int w = std::min(sizes[i].width, image.width), h = std::min(sizes[i].height, image.height);
    if (w <= 0 || h <= 0) continue;
    const int left = a.x, right = a.x + a.width - w, top = a.y - h, below = a.y + a.height;
    cand.clear();
    // mmdet's spot first (above the top-left corner), then inside the top
    // edge, below, right-aligned, beside, then further out.
    cand.insert(cand.end(), {{left, top}, {left, a.y}, {left, below}, {right, top}, {right, below},
                             {a.x + a.width, a.y}, {a.x - w, a.y}, {(left + right) / 2, top}});
    for (int k = 1; k <= 4; ++k)
      cand.insert(cand.end(), {{left, top - k * h}, {left, below + k * h}, {right, top - k * h},
                               {right, below + k * h}, {a.x + a.width, a.y + k * h}, {a.x - w, a.y + k * h}});
    // Pass 0 also keeps off the other objects (a tag should not hide one);
    // pass 1, for crowds where every spot covers some object, only off the tags.
    for (int pass = 0; pass < 2 && placed[i].empty(); ++pass) {
      for (cv::Point p : cand) {
        // Shift into the image (a tag at the border stays next to its object).
        p.x = std::clamp(p.x, 0, image.width - w);
        p.y = std::clamp(p.y, 0, image.height - h);
        const cv::Rect r(p.x, p.y, w, h);
        auto hits = [&](const cv::Rect& t) { return (t & r).area() > 0; };
        if (std::any_of(taken.begin(), taken.end(), hits)) continue;
        if (pass == 0) {
          bool covers = false;
          for (size_t j = 0; j < anchors.size() && !covers; ++j) covers = j != i && hits(anchors[j]);
          if (covers) continue;
        }
        placed[i] = r;
        taken.push_back(r);
        break;
      }
    }
  }
  return placed;
}

std::string instance_tag(const VisualizeOptions& o, int64_t label, double score) {
  std::string name = label >= 0 && label < static_cast<int64_t>(o.class_names.size())
                         ? o.class_names[static_cast<size_t>(label)]
                         : "class " + std::to_string(label);
  char buf[32];
  std::snprintf(buf, sizeof(buf), " %.2f", score);
  return name + buf;
}

cv::Mat draw_instances(const cv::Mat& rgb, const Instances& inst, const VisualizeOptions& o) {
  if (rgb.empty() || rgb.type() != CV_8UC3) fail("draw_instances: expected an HxWx3 uint8 image");
  cv::Mat out = rgb.clone();
  const int64_t n = inst.size();
  if (n == 0) return out;
  const int H = rgb.rows, W = rgb.cols;

  const bool has_masks = inst.masks.defined() && inst.masks.numel() > 0;
  const bool has_boxes = inst.bboxes.defined() && inst.bboxes.numel() > 0;
  at::Tensor masks, boxes;
  if (has_masks) {
    masks = inst.masks.to(at::kCPU, at::kByte).contiguous();
    if (masks.dim() != 3 || masks.size(0) != n || masks.size(1) != H || masks.size(2) != W)
      fail("draw_instances: masks must be [", n, ",", H, ",", W, "] (the image size), got ", masks.sizes());
  }
  if (has_boxes) {
    boxes = inst.bboxes.to(at::kCPU, at::kFloat).contiguous();
    if (boxes.dim() != 2 || boxes.size(0) != n || boxes.size(1) != 4)
      fail("draw_instances: bboxes must be [", n, ",4], got ", boxes.sizes());
  }
  const at::Tensor labels = inst.labels.to(at::kCPU, at::kLong).contiguous();
  const at::Tensor scores = inst.scores.defined() ? inst.scores.to(at::kCPU, at::kDouble).contiguous()
                                                  : at::ones({n}, at::kDouble);
  const int64_t* lab = labels.data_ptr<int64_t>();
  const double* sc = scores.data_ptr<double>();

  // Drawing order: ascending score (stable), so the best instances end on top.
  std::vector<int64_t> order;
  for (int64_t i = 0; i < n; ++i)
    if (sc[i] >= o.score_thr) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return sc[a] < sc[b]; });
  // Colours follow the score rank (rank 0 = best) so they do not depend on the drawing order.
  std::vector<size_t> rank(static_cast<size_t>(n), 0);
  for (size_t r = 0; r < order.size(); ++r) rank[static_cast<size_t>(order[order.size() - 1 - r])] = r;

  const double font = o.font_scale > 0 ? o.font_scale : std::clamp(std::min(H, W) / 900.0, 0.35, 1.0);
  const int font_thick = font >= 0.7 ? 2 : 1;
  struct Tag {
    cv::Rect object;  // the instance's bounding rectangle
    std::string text;
    Rgb color;
  };
  std::vector<Tag> tags;  // drawn last, above every mask
  const bool crowded = o.crowded_count >= 0 && static_cast<int64_t>(order.size()) > o.crowded_count;
  const double min_label_area = crowded ? o.crowded_label_min_frac * static_cast<double>(H) * W : 0.0;

  for (int64_t i : order) {
    const Rgb c = color_for(o, lab[i], rank[static_cast<size_t>(i)]);
    cv::Rect rect;
    bool have_rect = false;
    double area = 0;  // mask pixels, or the box's area for box-only instances
    if (has_masks) {
      cv::Mat m(H, W, CV_8UC1, masks[i].data_ptr<uint8_t>());
      rect = cv::boundingRect(m);
      if (rect.area() > 0) {
        have_rect = true;
        area = cv::countNonZero(m(rect));
        cv::Mat roi = out(rect);
        cv::Mat mroi = m(rect);
        cv::Mat blended;
        cv::addWeighted(roi, 1.0 - o.alpha, cv::Mat(roi.size(), CV_8UC3, scalar(c)), o.alpha, 0.0, blended);
        blended.copyTo(roi, mroi);
        if (o.draw_contours) {
          std::vector<std::vector<cv::Point>> contours;
          cv::findContours(mroi.clone(), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE, rect.tl());
          cv::drawContours(out, contours, -1, scalar(c), o.thickness, cv::LINE_8);
        }
      }
    }
    if (has_boxes && (o.draw_boxes || !has_masks)) {
      const float* b = boxes.data_ptr<float>() + i * 4;
      cv::Point p1(static_cast<int>(std::floor(b[0])), static_cast<int>(std::floor(b[1])));
      cv::Point p2(static_cast<int>(std::ceil(b[2])) - 1, static_cast<int>(std::ceil(b[3])) - 1);
      cv::rectangle(out, p1, p2, scalar(c), o.thickness);
      if (!have_rect) {
        rect = cv::Rect(p1, p2);
        have_rect = true;
        area = static_cast<double>(rect.area());
      }
    }
    if (o.draw_labels && have_rect && area >= min_label_area) tags.push_back({rect, instance_tag(o, lab[i], sc[i]), c});
  }

  // Best-scored first, so they get the spots nearest their objects.
  std::reverse(tags.begin(), tags.end());
  std::vector<cv::Rect> anchors;
  std::vector<cv::Size> sizes;
  std::vector<int> baselines;
  for (const Tag& t : tags) {
    int baseline = 0;
    const cv::Size ts = cv::getTextSize(t.text, cv::FONT_HERSHEY_SIMPLEX, font, font_thick, &baseline);
    anchors.push_back(t.object);
    sizes.emplace_back(ts.width + 2, ts.height + baseline + 2);
    baselines.push_back(baseline);
  }
  const std::vector<cv::Rect> spots = place_tags(anchors, sizes, cv::Size(W, H));
  for (size_t k = 0; k < tags.size(); ++k) {
    const cv::Rect& bg = spots[k];
    if (bg.empty()) continue;  // no free spot: leave the label out
    const Tag& t = tags[k];
    cv::rectangle(out, bg, scalar(t.color), cv::FILLED);
    const double luma = 0.299 * t.color[0] + 0.587 * t.color[1] + 0.114 * t.color[2];
    const cv::Scalar ink = luma > 140 ? cv::Scalar(0, 0, 0) : cv::Scalar(255, 255, 255);
    cv::putText(out, t.text, cv::Point(bg.x + 1, bg.y + bg.height - baselines[k] - 1), cv::FONT_HERSHEY_SIMPLEX,
                font, ink, font_thick, cv::LINE_AA);
  }
  return out;
}

void save_png_rgb(const std::string& path, const cv::Mat& rgb) {
  if (rgb.empty() || rgb.type() != CV_8UC3) fail(path, ": expected an HxWx3 uint8 image to save");
  const std::filesystem::path p(path);
  std::error_code ec;
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  bool ok = false;
  try {
    ok = cv::imwrite(path, bgr);
  } catch (const cv::Exception& e) {
    fail(path, ": cannot write the image: ", e.what());
  }
  if (!ok) fail(path, ": cannot write the image (does the directory exist? is the extension .png?)");
}

}  // namespace instseg
