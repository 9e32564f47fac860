// EmbeddingRPNHead (mmdet dense_heads/embedding_rpn_head.py): Sparse R-CNN's
// learned proposals, no network. Registered names = mmdet keys under rpn_head.:
// init_proposal_bboxes [N,4] (normalised cx,cy,w,h), init_proposal_features [N,C].
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

namespace instseg {

struct EmbeddingRPNHeadOptions {
  int64_t num_proposals = 100;
  int64_t proposal_feature_channel = 256;
};

struct Proposals {
  at::Tensor bboxes;     // [B,N,4] xyxy in img_shape pixels (differentiable)
  at::Tensor features;   // [B,N,C] (differentiable)
  at::Tensor imgs_whwh;  // [B,1,4] (img_w, img_h, img_w, img_h)
};

class EmbeddingRPNHeadImpl : public torch::nn::Module {
 public:
  explicit EmbeddingRPNHeadImpl(const EmbeddingRPNHeadOptions& options);
  // img_hw: per image (img_h, img_w) = img_shape (resized, not padded).
  // dtype/device of the result follow the embeddings.
  Proposals forward(const std::vector<std::pair<int64_t, int64_t>>& img_hw);
  // Boxes = the whole image (0.5,0.5,1,1); features keep N(0,1). Run by the
  // constructor (a port that forgets it gets random boxes: mmdetection#7174).
  void reset_parameters();

  torch::nn::Embedding init_proposal_bboxes{nullptr};
  torch::nn::Embedding init_proposal_features{nullptr};

 private:
  EmbeddingRPNHeadOptions options_;
};
TORCH_MODULE(EmbeddingRPNHead);

}  // namespace instseg
