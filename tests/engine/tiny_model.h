// A tiny detector and synthetic dataset for engine tests: a 2-layer MLP over
// 3x4x4 "images" that classifies the image (3 classes) and regresses one box.
// Deterministic: sample i is generated from its own seed.
#pragma once
#include "instseg/engine/dist_hooks.h"
#include "instseg/engine/interfaces.h"
#include "instseg/engine/sampler.h"
#include "instseg/models/detector.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/modules/linear.h>

#include <map>
#include <sstream>

namespace instseg::test {

struct TinyDetectorImpl : DetectorImpl {
  explicit TinyDetectorImpl(double dropout = 0.0, int64_t extra_params = 0) : dropout_(dropout) {
    backbone = register_module("backbone", torch::nn::Linear(48, 16));
    cls_head = register_module("cls_head", torch::nn::Linear(16, 3));
    reg_head = register_module("reg_head", torch::nn::Linear(16, 4));
    // Makes checkpoints big enough that writing one takes a while (kill tests).
    if (extra_params > 0) ballast = register_parameter("ballast", at::zeros({extra_params}));
  }

  at::Tensor features(const Batch& b) {
    auto x = b.images.flatten(1);
    x = at::relu(backbone->forward(x));
    return at::dropout(x, dropout_, is_training());
  }

  LossMap forward_train(const Batch& b) override {
    auto f = features(b);
    auto logits = cls_head->forward(f);
    auto boxes = reg_head->forward(f);
    std::vector<at::Tensor> labels, gt_boxes;
    for (const auto& g : b.gts) {
      labels.push_back(g.labels.narrow(0, 0, 1));
      gt_boxes.push_back(g.bboxes.narrow(0, 0, 1));
    }
    auto y = at::cat(labels);
    auto t = at::cat(gt_boxes) / 4.0;
    // Box loss over "positives" (label != 0) normalised by the positives of
    // all ranks: mmdetection's avg_factor = reduce_mean(num_pos).
    auto pos = (y != 0).to(at::kFloat);
    auto num_pos = reduce_mean(pos.sum()).clamp_min(1.0);
    LossMap m;
    m.set("loss_cls", at::cross_entropy_loss(logits, y));
    m.set("loss_bbox", ((boxes - t).abs().sum(1) * pos).sum() / num_pos);
    m.set("acc", (logits.argmax(1) == y).to(at::kFloat).mean() * 100.0);
    if (ballast.defined()) m.set("loss_ballast", (ballast * 0.0).sum());
    return m;
  }

  std::vector<Instances> predict(const Batch& b) override {
    auto f = features(b);
    auto prob = at::softmax(cls_head->forward(f), 1);
    auto boxes = reg_head->forward(f) * 4.0;
    std::vector<Instances> out;
    for (int64_t i = 0; i < b.size(); ++i) {
      Instances ins;
      auto mx = prob[i].max(0);
      ins.scores = std::get<0>(mx).reshape({1});
      ins.labels = std::get<1>(mx).reshape({1});
      ins.bboxes = boxes[i].reshape({1, 4});
      ins.masks = at::zeros({1, 4, 4}, at::kByte);
      ins.image_id = b.metas[i].image_id;
      out.push_back(ins);
    }
    return out;
  }

  int64_t num_classes() const override { return 3; }

  double dropout_;
  torch::nn::Linear backbone{nullptr}, cls_head{nullptr}, reg_head{nullptr};
  at::Tensor ballast;
};
TORCH_MODULE(TinyDetector);

// Sample i: label i % 3, image noise plus a bump in channel `label`.
inline void make_sample(int64_t i, at::Tensor& image, int64_t& label, at::Tensor& box) {
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(1000 + i));
  label = i % 3;
  image = at::randn({3, 4, 4}, g) * 0.7;
  image[label] += 1.0;
  const float c = static_cast<float>(label);
  box = at::tensor({c, c, c + 2.0f, c + 1.0f}).reshape({1, 4});
}

// This rank's batches of a `size`-sample dataset (mmengine DefaultSampler order).
class ToySource : public BatchSource {
 public:
  ToySource(int64_t size, int64_t batch_size, int rank = 0, int world = 1, bool shuffle = true,
            int64_t seed = 0)
      : size_(size), bs_(batch_size), rank_(rank), world_(world), shuffle_(shuffle), seed_(seed) {}
  int64_t batches_per_epoch() const override {
    return static_cast<int64_t>(sampler_indices(size_, 0, rank_, world_, {shuffle_, seed_}).size()) / bs_;
  }
  void start_epoch(int64_t epoch, int64_t skip) override {
    order_ = sampler_indices(size_, epoch, rank_, world_, {shuffle_, seed_});
    pos_ = skip * bs_;
  }
  optional<Batch> next() override {
    if (pos_ + bs_ > static_cast<int64_t>(order_.size())) return nullopt;
    Batch b;
    std::vector<at::Tensor> imgs;
    for (int64_t k = 0; k < bs_; ++k) {
      int64_t idx = order_[static_cast<size_t>(pos_ + k)];
      at::Tensor img, box;
      int64_t label;
      make_sample(idx, img, label, box);
      imgs.push_back(img);
      ImageMeta m;
      m.image_id = idx;
      m.ori_h = m.img_h = m.pad_h = 4;
      m.ori_w = m.img_w = m.pad_w = 4;
      b.metas.push_back(m);
      GtInstances gt;
      gt.labels = at::full({1}, label, at::kLong);
      gt.bboxes = box;
      gt.masks = at::zeros({1, 4, 4}, at::kByte);
      b.gts.push_back(gt);
    }
    b.images = at::stack(imgs);
    pos_ += bs_;
    return b;
  }

 private:
  int64_t size_, bs_;
  int rank_, world_;
  bool shuffle_;
  int64_t seed_;
  std::vector<int64_t> order_;
  int64_t pos_ = 0;
};

// Accuracy of the top label per image, deduplicated by image id.
class ToyEvaluator : public Evaluator {
 public:
  void reset() override { correct_.clear(); }
  void process(const Batch& b, const std::vector<Instances>& preds) override {
    for (size_t i = 0; i < preds.size(); ++i)
      correct_[b.metas[i].image_id] = preds[i].labels[0].item<int64_t>() == b.gts[i].labels[0].item<int64_t>();
  }
  Metrics compute() override {
    double n = 0;
    for (const auto& kv : correct_) n += kv.second;
    return {{"toy/acc", correct_.empty() ? 0.0 : n / correct_.size()},
            {"toy/num_images", static_cast<double>(correct_.size())}};
  }
  std::string dump_partial() const override {
    std::ostringstream os;
    for (const auto& kv : correct_) os << kv.first << ' ' << kv.second << ' ';
    return os.str();
  }
  void merge_partial(const std::string& bytes) override {
    std::istringstream is(bytes);
    int64_t id;
    int c;
    while (is >> id >> c) correct_[id] = c != 0;
  }

 private:
  std::map<int64_t, bool> correct_;
};

}  // namespace instseg::test
