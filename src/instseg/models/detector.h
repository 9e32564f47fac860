// The interface every model implements, and what the engine and CLI use.
#pragma once
#include "instseg/backbone/backbone.h"
#include "instseg/backbone/fpn.h"
#include "instseg/core/check.h"
#include "instseg/structures/class_names.h"
#include "instseg/structures/instances.h"
#include "instseg/structures/tensor_dict.h"

#include <torch/nn/module.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace instseg {

class DetectorImpl : public torch::nn::Module {
 public:
  ~DetectorImpl() override = default;

  // Training forward: named losses (mmdetection's names). Uses batch.gts.
  virtual LossMap forward_train(const Batch& batch) = 0;

  // Inference: one Instances per image, in the original image frame.
  virtual std::vector<Instances> predict(const Batch& batch) = 0;

  // Backbone + neck only: the neck's outputs (P2, ...), recording
  // backbone.c* / neck.p* when capturing. Models override it.
  virtual std::vector<at::Tensor> extract_feat(const at::Tensor& images) {
    TORCH_CHECK(false, "extract_feat is not implemented for this model");
  }

  // Number of object classes: predicted labels are 0..num_classes()-1 (SOLOv2:
  // mask_head.num_classes; QueryInst: the bbox heads' num_classes).
  virtual int64_t num_classes() const = 0;

  // Label -> class name. Whoever knows the dataset sets them: the weight
  // loader from the checkpoint's meta.dataset_meta.classes, or the caller from
  // the config's metainfo.classes / the training set. Until then (a model
  // built from a config alone): COCO's 80 names when num_classes() == 80, as
  // mmdetection's inference_detector falls back to, else "0".."N-1".
  std::vector<std::string> class_names() const {
    return class_names_.empty() ? default_class_names(num_classes()) : class_names_;
  }
  // Throws when names.size() != num_classes(); an empty vector restores the default.
  void set_class_names(std::vector<std::string> names) {
    INSTSEG_CHECK(names.empty() || static_cast<int64_t>(names.size()) == num_classes(), "set_class_names: ",
                  names.size(), " names for a model with ", num_classes(), " classes");
    class_names_ = std::move(names);
  }

  // When set, forward_train/predict record named intermediate tensors here
  // ("backbone.c2", "neck.p2", "solov2.cls_scores.0", ...) for
  // `instseg forward`. Not owned; nullptr (the default) records nothing.
  void set_capture(TensorDict* sink) { capture_ = sink; }

  // Inference in eval mode on the CPU: backbone and neck run in channels-last
  // (NHWC) memory format, oneDNN's native layout, which saves its reorders
  // around every convolution (1.7x on a ResNet-50 at 1333 x 800 with 2 threads
  // here: docs/performance.md); the neck's outputs go back to NCHW, so heads
  // and post-processing see what they always saw. Changes results by float
  // rounding only (a different summation order). Set by prepare_for_inference.
  void set_channels_last(bool on) { channels_last_ = on; }
  bool channels_last() const { return channels_last_; }
  // Inference in eval mode under autocast: the neck's outputs are returned in
  // the images' dtype (fp32), so the heads' bilinear resizes, coordinate
  // channels and sums over levels run in fp32 while their convolutions still
  // run in bf16/fp16. Rounding the features to bf16 before those ops was the
  // largest source of bf16's deviation from fp32 (SOLOv2 category scores moved
  // by up to 0.18; docs/performance.md, "bf16 done right"). No effect
  // without autocast. Set by prepare_for_inference.
  void set_fp32_features(bool on) { fp32_features_ = on; }
  bool fp32_features() const { return fp32_features_; }
  // The two ends of that: the images as the backbone gets them, and the
  // neck's outputs back in NCHW. Identity unless channels-last applies.
  bool runs_channels_last(const at::Tensor& images) const {
    return channels_last_ && !is_training() && images.device().is_cpu();
  }
  at::Tensor backbone_input(const at::Tensor& images) const {
    return runs_channels_last(images) ? images.contiguous(at::MemoryFormat::ChannelsLast) : images;
  }
  static void to_nchw(std::vector<at::Tensor>& features) {
    for (at::Tensor& t : features) t = t.contiguous();
  }

 protected:
  void capture(const std::string& name, const at::Tensor& t) {
    if (capture_) capture_->set(name, t.detach().contiguous());
  }

  // The extract_feat of every backbone + FPN detector: images [B,3,H,W] ->
  // the backbone's levels (captured as backbone.c2..) -> the neck's outputs
  // (captured as neck.p2..), which are returned.
  std::vector<at::Tensor> backbone_neck_features(BackboneImpl& backbone, FPNImpl& neck, const at::Tensor& images) {
    INSTSEG_CHECK(images.defined() && images.dim() == 4, "extract_feat: images must be [B,3,H,W], got ",
                  images.defined() ? images.sizes() : at::IntArrayRef{});
    const bool nhwc = runs_channels_last(images);
    const std::vector<at::Tensor> c = backbone.forward(backbone_input(images));
    if (capture_) {
      const std::vector<std::string> names = backbone.output_names();
      for (size_t i = 0; i < c.size(); ++i) capture("backbone." + names[i], c[i]);
    }
    std::vector<at::Tensor> p = neck.forward(c);
    if (nhwc) to_nchw(p);
    if (fp32_features_ && !is_training())
      for (at::Tensor& t : p)
        if (t.scalar_type() != images.scalar_type()) t = t.to(images.scalar_type());
    for (size_t i = 0; i < p.size(); ++i) capture("neck.p" + std::to_string(i + 2), p[i]);
    return p;
  }
  TensorDict* capture_ = nullptr;

 private:
  bool channels_last_ = false;
  bool fp32_features_ = false;
  std::vector<std::string> class_names_;  // empty: default_class_names(num_classes())
};

}  // namespace instseg
