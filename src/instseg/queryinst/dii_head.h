// DIIHead (mmdet roi_heads/bbox_heads/dii_head.py): one QueryInst / Sparse
// R-CNN box stage. Self-attention over the queries of each image, dynamic
// instance interaction with the RoI features, FFN, then class and box branches.
//
// Registered names = mmdet keys under roi_head.bbox_head.<s>: attention.attn.*,
// attention_norm, instance_interactive_conv.*, instance_interactive_conv_norm,
// ffn.layers.*, ffn_norm, cls_fcs.{0,1}, fc_cls, reg_fcs.{0,1,3,4,6,7}, fc_reg.
#pragma once
#include "instseg/queryinst/dynamic_conv.h"
#include "instseg/queryinst/transformer_layers.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace instseg {

struct DIIHeadOptions {
  int64_t num_classes = 80;  // sigmoid classes, no background logit
  int64_t num_ffn_fcs = 2;
  int64_t num_heads = 8;
  int64_t num_cls_fcs = 1;
  int64_t num_reg_fcs = 3;
  int64_t feedforward_channels = 2048;
  int64_t in_channels = 256;
  DynamicConvOptions dynamic_conv{};  // in 256, feat 64, out 256, 7x7, with_proj
};

struct DIIHeadOutput {
  at::Tensor cls_score;   // [B,N,num_classes] logits
  at::Tensor bbox_delta;  // [B,N,4] (dx,dy,dw,dh), class-agnostic
  at::Tensor obj_feat;    // [B,N,E] the queries for the next stage
  at::Tensor attn_feats;  // [B,N,E] after self-attention (the mask head's queries)
};

class DIIHeadImpl : public torch::nn::Module {
 public:
  explicit DIIHeadImpl(const DIIHeadOptions& options);
  // roi_feat [B*N, E, 7, 7] (image-major), proposal_feat [B,N,E].
  DIIHeadOutput forward(const at::Tensor& roi_feat, const at::Tensor& proposal_feat);
  // mmdet init: xavier_uniform on every parameter with dim > 1, fc_cls bias =
  // bias_init_with_prob(0.01). Called by the constructor.
  void reset_parameters();
  const DIIHeadOptions& options() const { return options_; }

  MMCVMultiheadAttention attention{nullptr};
  torch::nn::LayerNorm attention_norm{nullptr};
  DynamicConv instance_interactive_conv{nullptr};
  torch::nn::LayerNorm instance_interactive_conv_norm{nullptr};
  FFN ffn{nullptr};
  torch::nn::LayerNorm ffn_norm{nullptr};
  torch::nn::ModuleList cls_fcs{nullptr}, reg_fcs{nullptr};  // [Linear(no bias), LN, ReLU] x k
  torch::nn::Linear fc_cls{nullptr}, fc_reg{nullptr};

 private:
  DIIHeadOptions options_;
};
TORCH_MODULE(DIIHead);

}  // namespace instseg
