#include "instseg/api/predictor.h"

#include "instseg/config/build_data.h"
#include "instseg/config/build_inference.h"
#include "instseg/config/overrides.h"
#include "instseg/config/top_level.h"
#include "instseg/core/check.h"
#include "instseg/core/log.h"
#include "instseg/io/coco_json.h"
#include "instseg/io/collate.h"
#include "instseg/io/image.h"
#include "instseg/io/rng.h"
#include "instseg/io/sample.h"
#include "instseg/inference/tensor_predictor.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <filesystem>

namespace instseg {

struct Predictor::Impl {
  Impl(const InferenceConfig& ic, const std::string& checkpoint, PredictorOptions options)
      : core(ic.spec, checkpoint, std::move(options)),
        pipeline(ic.pipeline),
        ann_file(core.options().ann_file.empty() ? ic.ann_file : core.options().ann_file) {
    collate = collate_options_from(core.spec().model.preprocess);
    collate.with_gt = false;
    collate.with_mask = false;
  }

  // RGB images -> Batch through the config's test pipeline (io/transforms),
  // then DetDataPreprocessor (io/collate): what the test loader does per image.
  Batch preprocess_rgb(const std::vector<cv::Mat>& rgb, const std::vector<int64_t>& ids,
                       const std::vector<std::string>& files) const {
    INSTSEG_CHECK(!rgb.empty(), "preprocess: no images");
    std::vector<Sample> samples(rgb.size());
    for (size_t i = 0; i < rgb.size(); ++i) {
      Sample& s = samples[i];
      s.image = rgb[i];
      s.meta.image_id = ids[i];
      s.meta.file = files.empty() ? std::string() : files[i];
      s.meta.ori_h = s.meta.img_h = s.image.rows;
      s.meta.ori_w = s.meta.img_w = s.image.cols;
      Rng rng(0);  // test pipelines are deterministic; a fixed seed keeps random ones reproducible
      if (!pipeline(s, rng))
        fail(s.meta.file.empty() ? std::string("image") : s.meta.file,
             ": the test pipeline dropped the image (RandomCrop in the test pipeline?)");
    }
    return instseg::collate(samples, collate);
  }

  TensorPredictor core;
  Pipeline pipeline;
  std::string ann_file;
  CollateOptions collate;
  mutable std::vector<int64_t> category_ids;  // filled by category_ids()
};

namespace {

// BGR / grey / BGRA 8-bit -> RGB (mmcv's LoadImageFromNDArray keeps 3-channel
// BGR, and the data preprocessor swaps to RGB).
cv::Mat to_rgb(const cv::Mat& img) {
  INSTSEG_CHECK(!img.empty(), "predict: empty image");
  INSTSEG_CHECK(img.depth() == CV_8U, "predict: expected an 8-bit image, got OpenCV depth ", img.depth());
  cv::Mat rgb;
  switch (img.channels()) {
    case 3: cv::cvtColor(img, rgb, cv::COLOR_BGR2RGB); break;
    case 1: cv::cvtColor(img, rgb, cv::COLOR_GRAY2RGB); break;
    case 4: cv::cvtColor(img, rgb, cv::COLOR_BGRA2RGB); break;
    default: fail("predict: expected 1, 3 or 4 channels, got ", img.channels());
  }
  return rgb;
}

std::vector<int64_t> ids_or_index(const std::vector<int64_t>& ids, size_t n) {
  INSTSEG_CHECK(ids.empty() || ids.size() == n, "predict: ", ids.size(), " image ids for ", n, " images");
  if (!ids.empty()) return ids;
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<int64_t>(i);
  return out;
}

ConfigNode with_overrides(ConfigNode cfg, const std::vector<std::string>& cfg_options) {
  apply_overrides(cfg, cfg_options);
  check_top_level(cfg);
  return cfg;
}

}  // namespace

Predictor::Predictor(const std::string& config_file, const std::string& checkpoint, PredictorOptions options)
    : Predictor(load_config(config_file), checkpoint, std::move(options), config_file) {}

Predictor::Predictor(ConfigNode config, const std::string& checkpoint, PredictorOptions options,
                     const std::string& config_name) {
  const ConfigNode cfg = with_overrides(std::move(config), options.cfg_options);
  impl_ = std::make_unique<Impl>(inference_config_from(cfg, config_name), checkpoint, std::move(options));
}

Predictor::~Predictor() = default;
Predictor::Predictor(Predictor&&) noexcept = default;
Predictor& Predictor::operator=(Predictor&&) noexcept = default;

cv::Mat Predictor::read_image(const std::string& path) {
  cv::Mat bgr;
  cv::cvtColor(read_image_rgb(path), bgr, cv::COLOR_RGB2BGR);
  return bgr;
}

Batch Predictor::preprocess(const std::vector<cv::Mat>& bgr, const std::vector<int64_t>& image_ids) const {
  std::vector<cv::Mat> rgb;
  rgb.reserve(bgr.size());
  for (const cv::Mat& m : bgr) rgb.push_back(to_rgb(m));
  return impl_->preprocess_rgb(rgb, ids_or_index(image_ids, bgr.size()), {});
}

std::vector<Instances> Predictor::forward(const Batch& batch) { return impl_->core.forward(batch); }

std::vector<Prediction> Predictor::postprocess(const std::vector<Instances>& dets, const Batch& batch) const {
  return impl_->core.postprocess(dets, batch);
}

Prediction Predictor::predict(const cv::Mat& bgr, int64_t image_id) {
  return predict(std::vector<cv::Mat>{bgr}, {image_id}).front();
}

std::vector<Prediction> Predictor::predict(const std::vector<cv::Mat>& bgr, const std::vector<int64_t>& image_ids) {
  const std::vector<int64_t> ids = ids_or_index(image_ids, bgr.size());
  std::vector<Prediction> out;
  out.reserve(bgr.size());
  for_each_batch(bgr.size(), impl_->core.options().batch_size, [&](size_t b, size_t e) {
    const Batch batch = preprocess(std::vector<cv::Mat>(bgr.begin() + b, bgr.begin() + e),
                                   std::vector<int64_t>(ids.begin() + b, ids.begin() + e));
    for (Prediction& p : postprocess(forward(batch), batch)) out.push_back(std::move(p));
  });
  return out;
}

Prediction Predictor::predict(const at::Tensor& rgb, int64_t image_id) { return impl_->core.predict(rgb, image_id); }

Prediction Predictor::predict_file(const std::string& path, int64_t image_id) {
  const Batch batch = impl_->preprocess_rgb({read_image_rgb(path)}, {image_id}, {path});
  return postprocess(forward(batch), batch).front();
}

cv::Mat Predictor::draw(const cv::Mat& bgr, const Prediction& prediction, VisualizeOptions o) const {
  if (o.class_names.empty()) o.class_names = class_names();
  if (o.palette.empty()) o.palette = palette();
  cv::Mat out;
  cv::cvtColor(draw_instances(to_rgb(bgr), to_instances(prediction), o), out, cv::COLOR_RGB2BGR);
  return out;
}

const std::vector<std::string>& Predictor::class_names() const { return impl_->core.class_names(); }
const std::vector<std::array<uint8_t, 3>>& Predictor::palette() const { return impl_->core.palette(); }
const PredictorOptions& Predictor::options() const { return impl_->core.options(); }
const InferenceSpec& Predictor::spec() const { return impl_->core.spec(); }
TensorPredictor& Predictor::core() { return impl_->core; }

const std::vector<int64_t>& Predictor::category_ids() const {
  std::vector<int64_t>& ids = impl_->category_ids;
  if (!ids.empty()) return ids;
  const std::vector<std::string>& names = class_names();
  std::error_code ec;
  if (!impl_->ann_file.empty() && std::filesystem::is_regular_file(impl_->ann_file, ec)) {
    const CocoFile coco = load_coco_json(impl_->ann_file);
    for (const std::string& n : names) {
      auto it = std::find_if(coco.categories.begin(), coco.categories.end(),
                             [&](const CocoCategory& c) { return c.name == n; });
      if (it == coco.categories.end()) {
        log_warning("predict: class '", n, "' is not a category of ", impl_->ann_file, ": category ids are 1..",
                    names.size());
        ids.clear();
        break;
      }
      ids.push_back(it->id);
    }
  }
  if (ids.size() != names.size()) {
    ids.clear();
    for (size_t i = 0; i < names.size(); ++i) ids.push_back(static_cast<int64_t>(i) + 1);
  }
  return ids;
}

}  // namespace instseg
