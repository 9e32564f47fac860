// A detector ready for inference: built from its options, weights loaded
// strictly (checkpoint/load_weights.h), prepared for inference, on a device.
//
//   InferenceModel m = load_inference_model(spec, "solov2.pth", parse_device("auto"), "configs/x.yaml");
//   std::vector<Instances> dets = predict_batch(*m.model, batch, m.device);
//
// prepare_for_inference() is the one place where a loaded model is turned
// into an inference model: every inference user (predict, test, Predictor,
// bench) goes through it, so inference-only graph work (e.g. folding frozen
// BatchNorm into convolutions) belongs there, never in training or in the
// state dict that checkpoints save.
#pragma once
#include "instseg/checkpoint/load_weights.h"
#include "instseg/models/detector.h"
#include "instseg/models/model.h"

#include <c10/core/Device.h>

#include <memory>
#include <string>

namespace instseg {

// Inference-only graph changes made by prepare_for_inference. Each changes
// results by float rounding only (~1e-6 relative: detections and scores agree
// to the parity tolerances); exact() keeps mmdetection's numerics bit for bit.
struct InferenceGraphOptions {
  bool fold_batchnorm = true;  // eval-mode BatchNorm folded into its conv (BackboneImpl::fold_batchnorm)
  bool channels_last = true;   // CPU: backbone and neck in NHWC (DetectorImpl::set_channels_last)
  // Under autocast only (fp32 runs are unchanged): the backbone's stem in fp32
  // (BackboneImpl::set_fp32_stem) and the neck's outputs in fp32
  // (DetectorImpl::set_fp32_features); mmdetection's autocast runs both in bf16/fp16.
  bool autocast_fp32_ends = true;
  // Under autocast only: SOLOv2's category branch in fp32
  // (SOLOv2HeadImpl::set_fp32_category); its scores decide which detections
  // pass the score threshold. QueryInst is unaffected.
  bool autocast_fp32_category = true;
  static InferenceGraphOptions exact() { return {false, false, false, false}; }
};

struct InferenceModel {
  std::shared_ptr<DetectorImpl> model;  // eval mode, on `device`, weights loaded
  c10::Device device = c10::Device(c10::kCPU);
  ModelSpec spec;
  LoadedWeights weights;  // where they came from, the load report, the checkpoint's dataset_meta
};

// Eval mode (BatchNorm running statistics, no dropout), moved to `device`,
// then the graph changes of `graph` (after the move: folds live on the device).
void prepare_for_inference(DetectorImpl& model, const c10::Device& device, const InferenceGraphOptions& graph = {});

// build_model(spec) + load_weights(strict) + prepare_for_inference. An empty
// `checkpoint` keeps the model's random initialisation (with a warning): for
// timing (`instseg bench`), never for results. When the
// checkpoint's meta.dataset_meta.classes has num_classes() names, they become
// the model's class_names(). `config_name` names the config in messages
// ("the SOLOv2 model of <config_name>").
InferenceModel load_inference_model(const ModelSpec& spec, const std::string& checkpoint, const c10::Device& device,
                                    const std::string& config_name = "", const InferenceGraphOptions& graph = {});

}  // namespace instseg
