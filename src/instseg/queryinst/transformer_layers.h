// The two mmcv transformer bricks DIIHead uses, with mmcv's state-dict names:
//  - MultiheadAttention (mmcv.cnn.bricks.transformer): wraps torch's
//    nn.MultiheadAttention as `attn` (in_proj_weight [3E,E], in_proj_bias [3E],
//    out_proj) and adds the residual: out = x + MHA(x, x, x).
//  - FFN: layers.0.0 = Linear(E, F) + ReLU, layers.1 = Linear(F, E), plus the
//    residual: out = x + layers(x). Dropout is 0 in every config we support.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace instseg {

// torch.nn.MultiheadAttention for self-attention, computed like PyTorch's
// multi_head_attention_forward (packed in-projection, q / sqrt(head_dim),
// softmax, out_proj).
class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(int64_t embed_dims, int64_t num_heads);
  // x [L, B, E] (sequence first) -> [L, B, E].
  at::Tensor forward(const at::Tensor& x);
  // xavier_uniform in_proj_weight, zero biases (nn.MultiheadAttention init).
  void reset_parameters();

  at::Tensor in_proj_weight, in_proj_bias;
  torch::nn::Linear out_proj{nullptr};

 private:
  int64_t embed_dims_, num_heads_;
};
TORCH_MODULE(SelfAttention);

class MMCVMultiheadAttentionImpl : public torch::nn::Module {
 public:
  MMCVMultiheadAttentionImpl(int64_t embed_dims, int64_t num_heads);
  // x [L, B, E] -> x + attn(x).
  at::Tensor forward(const at::Tensor& x);
  SelfAttention attn{nullptr};
};
TORCH_MODULE(MMCVMultiheadAttention);

class FFNImpl : public torch::nn::Module {
 public:
  // num_fcs must be >= 2 (mmcv); fcs 0..num_fcs-2 are Linear+ReLU blocks.
  FFNImpl(int64_t embed_dims, int64_t feedforward_channels, int64_t num_fcs = 2);
  // x [..., E] -> x + layers(x).
  at::Tensor forward(const at::Tensor& x);
  // layers.<i> = ModuleList[Linear, ReLU] for i < num_fcs-1, then a Linear.
  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(FFN);

}  // namespace instseg
