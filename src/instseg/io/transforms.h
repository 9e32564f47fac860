// mmdetection 3.x data transforms on Sample, with mmcv's numerics:
//
//   Resize             keep-ratio (mmcv.rescale_size + cv2 INTER_LINEAR) or exact size
//   RandomChoiceResize one scale of a list (mmdet 2.x multiscale_mode='value')
//   RandomResize       scale sampled in a range (multiscale_mode='range') or by ratio_range
//   RandomFlip         horizontal / vertical / diagonal flips (mmcv's prob and direction semantics)
//   RandomCrop         crop_type absolute / absolute_range / relative / relative_range
//   RandomChoice       one branch (a list of transforms) chosen at random
//   YOLOXHSVRandomAug  random hue / saturation / value offsets in OpenCV's uint8 HSV
//
// Boxes and masks move with the image; meta.img_*, scale_*, flip are kept up
// to date. Normalize and Pad are not here: they run per batch in collate
// (mmdet 3 does both in DetDataPreprocessor). LoadImageFromFile and
// LoadAnnotations are CocoDataset::load.
//
// A pipeline is described by a list of TransformSpec (explicit option
// structs) that config parsing fills from mmdet's train_pipeline dicts.
#pragma once
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "instseg/io/rng.h"
#include "instseg/io/sample.h"

namespace instseg {

// A scale as written in an mmdet config: (w, h) = (1333, 800). With keep_ratio
// only max/min of the pair matter (long and short edge limits).
struct Scale {
  int64_t w = 1333, h = 800;
};

struct ResizeOptions {
  Scale scale;
  bool keep_ratio = true;
  bool clip_object_border = true;  // clip boxes to the resized image
};

struct RandomChoiceResizeOptions {
  std::vector<Scale> scales;  // one chosen uniformly
  bool keep_ratio = true;
  bool clip_object_border = true;
};

struct RandomResizeOptions {
  // Two scales: each edge sampled uniformly (integers, inclusive) between
  // the two values (mmcv RandomResize with ratio_range unset). With
  // ratio_range set, scales[0] is multiplied by a ratio uniform in the range.
  std::vector<Scale> scales;
  double ratio_min = 0, ratio_max = 0;  // both 0: unset
  bool keep_ratio = true;
  bool clip_object_border = true;
};

// mmcv.transforms.RandomFlip. 'diagonal' is mmcv.imflip's diagonal: both axes
// at once (a 180-degree rotation), not a transpose. Which flip happens
// (mmcv's _choose_direction): with one `prob` and k directions, each
// direction has probability prob / k and no flip 1 - prob; with a list of
// probabilities (`probs`, one per direction), direction i has probs[i] and no
// flip 1 - sum(probs).
enum class FlipDirection { horizontal, vertical, diagonal };

struct RandomFlipOptions {
  double prob = 0.5;                  // used when probs is empty
  std::vector<FlipDirection> directions{FlipDirection::horizontal};
  std::vector<double> probs;          // mmcv's list-valued prob; empty: prob split evenly
};

struct RandomCropOptions {
  enum class Type { absolute, absolute_range, relative, relative_range };
  Type crop_type = Type::absolute;
  // mmdet's crop_size = (crop_h, crop_w): pixels (absolute), ratios (relative*);
  // for absolute_range it is (min, max) of both edges, e.g. (384, 600).
  double crop_h = 0, crop_w = 0;
  bool allow_negative_crop = false;
  bool recompute_bbox = false;
  bool bbox_clip_border = true;
};

// mmdet YOLOXHSVRandomAug: gains = uniform(-1, 1, 3) * (hue, saturation,
// value) deltas, each kept with probability 1/2, truncated to int16; then in
// cv2's uint8 HSV (H in [0, 180)) H = (H + g0) mod 180, S and V clipped to
// [0, 255] after adding g1, g2.
struct YOLOXHSVRandomAugOptions {
  int64_t hue_delta = 5;
  int64_t saturation_delta = 30;
  int64_t value_delta = 30;
};

struct TransformSpec;

struct RandomChoiceOptions {
  std::vector<std::vector<TransformSpec>> branches;
  std::vector<double> probs;  // empty: uniform
};

struct TransformSpec {
  std::variant<ResizeOptions, RandomChoiceResizeOptions, RandomResizeOptions, RandomFlipOptions,
               RandomCropOptions, RandomChoiceOptions, YOLOXHSVRandomAugOptions>
      op;
};

// mmcv.rescale_size: the keep-ratio output size (w, h) for an image of w x h
// (each side at least 1 px, where mmcv would compute 0 and fail).
void rescale_size(int64_t w, int64_t h, const Scale& scale, int64_t* new_w, int64_t* new_h);

// Individual transforms (public for tests). Each returns false when the
// sample must be dropped (RandomCrop without any box left).
void resize_to(Sample& s, int64_t new_w, int64_t new_h, bool clip_boxes);
void resize(Sample& s, const Scale& scale, bool keep_ratio, bool clip_boxes);
void flip_horizontal(Sample& s);
// mmdet RandomFlip._flip for one direction: image, boxes (HorizontalBoxes.flip_)
// and masks (BitmapMasks.flip); sets meta.flip and meta.flip_direction.
void flip(Sample& s, FlipDirection d);
// "horizontal", "vertical" or "diagonal".
const char* flip_direction_name(FlipDirection d);
// Crops [y0, y0+h) x [x0, x0+w) (already inside the image) as RandomCrop._crop_data.
bool crop(Sample& s, int64_t y0, int64_t x0, int64_t h, int64_t w, const RandomCropOptions& o);

// YOLOXHSVRandomAug with given (already sampled) int16 gains (h, s, v).
// The image is RGB here, BGR in mmdet: cv2 RGB<->HSV on RGB equals
// BGR<->HSV on BGR, so the result is the same picture.
void hsv_shift(Sample& s, int hue_gain, int saturation_gain, int value_gain);

// A built pipeline: applies the specs in order.
class Pipeline {
 public:
  Pipeline() = default;
  explicit Pipeline(std::vector<TransformSpec> specs);
  // false: the sample was dropped (mmdet returns None and the dataset refetches).
  bool operator()(Sample& s, Rng& rng) const;
  bool empty() const { return specs_.empty(); }
  const std::vector<TransformSpec>& specs() const { return specs_; }

 private:
  std::vector<TransformSpec> specs_;
};

// Ready-made pipelines of the configs instseg reproduces.
// Test: Resize(1333, 800) keep ratio.
std::vector<TransformSpec> test_pipeline(Scale scale = {1333, 800});
// 1x: Resize(1333, 800) keep ratio + RandomFlip(0.5).
std::vector<TransformSpec> train_pipeline_1x(Scale scale = {1333, 800});
// Multi-scale 'value' mode: RandomChoiceResize([(1333, s) for s in shorts]) + flip.
std::vector<TransformSpec> train_pipeline_multiscale(const std::vector<int64_t>& shorts,
                                                     int64_t long_edge = 1333);
// QueryInst 300-proposals crop config: flip, then RandomChoice of
// [RandomChoiceResize(480..800)] or [RandomChoiceResize(400,500,600),
// RandomCrop(absolute_range, (384, 600), allow_negative_crop), RandomChoiceResize(480..800)].
std::vector<TransformSpec> train_pipeline_queryinst_crop();

}  // namespace instseg
