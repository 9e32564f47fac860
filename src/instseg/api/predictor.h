// instseg's C++ API: instance segmentation of OpenCV images with a SOLOv2 or
// QueryInst checkpoint, as mmdetection's init_detector + inference_detector.
//
//   #include <instseg/instseg.h>
//
//   instseg::PredictorOptions opt;              // device "auto", score_thr 0.3, ...
//   instseg::Predictor predictor("solov2_r50_fpn_1x_coco.yaml", "solov2.pth", opt);
//   cv::Mat bgr = cv::imread("street.jpg");     // BGR, as OpenCV decodes it
//   instseg::Prediction r = predictor.predict(bgr);
//   for (int64_t k = 0; k < r.size(); ++k) {
//     const float* box = r.boxes[k].data_ptr<float>();   // x1 y1 x2 y2, image pixels
//     std::printf("%s %.3f [%.0f %.0f %.0f %.0f]\n", r.class_names[k].c_str(),
//                 r.scores[k].item<float>(), box[0], box[1], box[2], box[3]);
//     cv::Mat mask(r.height, r.width, CV_8UC1, r.masks[k].data_ptr<uint8_t>());  // 0/1, a view
//   }
//   cv::imwrite("street_instances.png", predictor.draw(bgr, r));
//
// Results are in the input image's pixels: boxes [K,4] float32 xyxy, masks
// [K,H,W] uint8 at the input's size (and COCO RLE strings with opt.rle), best
// score first; instances below opt.score_thr are dropped. The image goes
// through the config's test pipeline (keep-ratio Resize, cv2 numerics) and
// the model's normalisation and padding, exactly as `instseg predict` and
// `instseg test` do, so the numbers are the command's.
//
// Threads: a Predictor is used by one thread at a time; create one per thread
// to run several at once (they share nothing). LibTorch's intra-op threads
// (at::set_num_threads) parallelise each call.
//
// Without OpenCV: inference/tensor_predictor.h (TensorPredictor, LibTorch
// only) takes decoded RGB tensors; Predictor::predict(at::Tensor) is the same
// entry here.
#pragma once
#include "instseg/config/config_tree.h"
#include "instseg/inference/prediction.h"
#include "instseg/inference/predictor_options.h"
#include "instseg/io/visualize.h"
#include "instseg/structures/instances.h"

#include <opencv2/core.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace instseg {

class TensorPredictor;  // inference/tensor_predictor.h
struct InferenceSpec;   // inference/inference_spec.h

class Predictor {
 public:
  // A config file (.yaml / .json, mmdetection's schema; options.cfg_options
  // applied) and a checkpoint (mmdetection's model zoo or instseg's).
  Predictor(const std::string& config_file, const std::string& checkpoint, PredictorOptions options = {});
  // An already parsed config (config/config_tree.h); options.cfg_options are
  // applied to it. `config_name` names it in messages.
  Predictor(ConfigNode config, const std::string& checkpoint, PredictorOptions options,
            const std::string& config_name);
  ~Predictor();
  Predictor(Predictor&&) noexcept;
  Predictor& operator=(Predictor&&) noexcept;

  // bgr: 8-bit BGR (CV_8UC3), grey (CV_8UC1) or BGRA (CV_8UC4, alpha ignored).
  Prediction predict(const cv::Mat& bgr, int64_t image_id = 0);
  // In batches of options().batch_size; image_ids: one per image or empty (0, 1, ...).
  std::vector<Prediction> predict(const std::vector<cv::Mat>& bgr, const std::vector<int64_t>& image_ids = {});
  // A decoded RGB image, uint8 [H,W,3] (TensorPredictor's entry).
  Prediction predict(const at::Tensor& rgb, int64_t image_id = 0);
  // An image file, decoded as mmdetection's LoadImageFromFile does (cv2,
  // EXIF orientation applied). Errors name the file.
  Prediction predict_file(const std::string& path, int64_t image_id = 0);

  // The stages of predict(), for timing and custom loops:
  // read_image (decode; BGR) -> preprocess (test pipeline, normalise, pad) ->
  // forward (network and the model's post-processing, masks pasted at the
  // input size) -> postprocess (score filter, class names, RLE).
  static cv::Mat read_image(const std::string& path);
  Batch preprocess(const std::vector<cv::Mat>& bgr, const std::vector<int64_t>& image_ids = {}) const;
  std::vector<Instances> forward(const Batch& batch);
  std::vector<Prediction> postprocess(const std::vector<Instances>& dets, const Batch& batch) const;

  // The instances drawn on a copy of `bgr` (BGR out): masks blended in, outer
  // contours, "class score" labels. Class names and palette default to the
  // predictor's.
  cv::Mat draw(const cv::Mat& bgr, const Prediction& prediction, VisualizeOptions options = {}) const;

  const std::vector<std::string>& class_names() const;
  const std::vector<std::array<uint8_t, 3>>& palette() const;
  // COCO category ids of the labels, for results files: those of the test
  // dataset's annotation file when it exists here and has every class name,
  // else 1..C. Reads that file on the first call.
  const std::vector<int64_t>& category_ids() const;
  const PredictorOptions& options() const;
  const InferenceSpec& spec() const;
  TensorPredictor& core();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace instseg
