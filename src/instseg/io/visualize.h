// Overlay pictures of detections (what mmdet's DetLocalVisualizer draws for
// `--show-dir` and the image demo): every instance's mask alpha-blended in its
// colour, its outer contour, and a "label score" tag at the mask's top-left.
//
//   cv::Mat rgb = read_image_rgb("a.png");
//   VisualizeOptions vo;
//   vo.class_names = dataset.class_names();
//   save_overlay_png("out/a.png", draw_instances(rgb, predictions, vo));
//
// Colours: with a per-class palette (the dataset's metainfo.palette) every
// instance takes its class colour, slightly varied per instance as mmdet's
// jitter does (deterministic here); without one, instances get successive
// colours of a fixed 32-colour palette, which tells touching objects of one
// class apart (nuclei).
#pragma once
#include <opencv2/core.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "instseg/structures/instances.h"

namespace instseg {

using Rgb = std::array<uint8_t, 3>;

struct VisualizeOptions {
  double alpha = 0.5;       // mask opacity
  double score_thr = 0.0;   // instances with a lower score are not drawn
  bool draw_contours = true;
  bool draw_labels = true;
  // Crowded images (more than crowded_count drawn instances, e.g. 250 nuclei):
  // tags hide the picture, so only instances whose mask (or box) covers at
  // least crowded_label_min_frac of the image get one; masks and contours are
  // drawn for all. crowded_count < 0: always label every instance (mmdet).
  int64_t crowded_count = 30;
  double crowded_label_min_frac = 0.01;
  bool draw_boxes = false;  // also the xyxy boxes (always drawn for box-only instances)
  int thickness = 1;        // contour / box line width in pixels
  double font_scale = 0;    // 0: from the image size
  std::vector<std::string> class_names;  // label -> name; empty or short: "class <label>"
  std::vector<Rgb> palette;              // label -> colour; empty: per-instance colours
};

// The fixed per-instance palette (index taken modulo its size).
Rgb instance_color(size_t index);
size_t instance_palette_size();

// The colour instance `index` with label `label` gets under `o`.
Rgb color_for(const VisualizeOptions& o, int64_t label, size_t index);

// The tag text of one instance: "<class name> <score with 2 decimals>".
std::string instance_tag(const VisualizeOptions& o, int64_t label, double score);

// Label layout: places text boxes `sizes[i]` next to objects `anchors[i]`
// (their bounding rectangles), in the given priority order, so that no two
// boxes overlap and every box lies inside `image`. Each box takes the first
// free spot of a fixed candidate list around its anchor (above it left-aligned
// as mmdet draws it, then inside its top, below it, right-aligned, beside it,
// then stacked up to 4 box heights further above / below), preferring spots
// that cover no other object; a box with no free
// spot gets an empty rectangle (its label is left out: overlapping labels are
// unreadable, which is what mmdet's overlays show on crowded images).
std::vector<cv::Rect> place_tags(const std::vector<cv::Rect>& anchors, const std::vector<cv::Size>& sizes,
                                 cv::Size image);

// Draws `inst` (masks [K,H,W] uint8 at the image's size, and/or boxes [K,4]
// xyxy in image pixels) on a copy of `rgb` (HxWx3 uint8 RGB) and returns it.
// Lower-scored instances are drawn first so the best ones end on top; tags are
// laid out by place_tags, best-scored first.
// Throws instseg::Error when the masks' size differs from the image's.
cv::Mat draw_instances(const cv::Mat& rgb, const Instances& inst, const VisualizeOptions& o);

// Writes an RGB image as PNG (creating the parent directory). Throws
// instseg::Error naming the file on failure.
void save_png_rgb(const std::string& path, const cv::Mat& rgb);

}  // namespace instseg
