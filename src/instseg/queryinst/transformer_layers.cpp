#include "instseg/queryinst/transformer_layers.h"

#include "instseg/core/check.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>

#include <cmath>

namespace instseg {

SelfAttentionImpl::SelfAttentionImpl(int64_t embed_dims, int64_t num_heads)
    : embed_dims_(embed_dims), num_heads_(num_heads) {
  INSTSEG_CHECK(num_heads > 0 && embed_dims % num_heads == 0, "MultiheadAttention: embed_dims ",
                embed_dims, " is not divisible by num_heads ", num_heads);
  in_proj_weight = register_parameter("in_proj_weight", at::empty({3 * embed_dims, embed_dims}));
  in_proj_bias = register_parameter("in_proj_bias", at::empty({3 * embed_dims}));
  out_proj = register_module("out_proj", torch::nn::Linear(embed_dims, embed_dims));
  reset_parameters();
}

void SelfAttentionImpl::reset_parameters() {
  torch::NoGradGuard ng;
  torch::nn::init::xavier_uniform_(in_proj_weight);
  in_proj_bias.zero_();
  out_proj->bias.zero_();
}

at::Tensor SelfAttentionImpl::forward(const at::Tensor& x) {
  INSTSEG_CHECK(x.dim() == 3 && x.size(2) == embed_dims_, "MultiheadAttention: input must be [L,B,",
                embed_dims_, "], got ", x.sizes());
  const int64_t L = x.size(0), B = x.size(1), E = embed_dims_, H = num_heads_, hd = E / H;
  auto proj = at::linear(x, in_proj_weight, in_proj_bias);  // [L,B,3E]
  auto qkv = proj.chunk(3, -1);
  // [L, B*H, hd] -> [B*H, L, hd]
  auto q = qkv[0].contiguous().view({L, B * H, hd}).transpose(0, 1);
  auto k = qkv[1].contiguous().view({L, B * H, hd}).transpose(0, 1);
  auto v = qkv[2].contiguous().view({L, B * H, hd}).transpose(0, 1);
  q = q / std::sqrt(static_cast<double>(hd));
  auto attn = at::softmax(at::bmm(q, k.transpose(-2, -1)), -1);
  auto out = at::bmm(attn, v);  // [B*H, L, hd]
  out = out.transpose(0, 1).contiguous().view({L * B, E});
  return out_proj(out).view({L, B, E});
}

MMCVMultiheadAttentionImpl::MMCVMultiheadAttentionImpl(int64_t embed_dims, int64_t num_heads) {
  attn = register_module("attn", SelfAttention(embed_dims, num_heads));
}

at::Tensor MMCVMultiheadAttentionImpl::forward(const at::Tensor& x) { return x + attn(x); }

FFNImpl::FFNImpl(int64_t embed_dims, int64_t feedforward_channels, int64_t num_fcs) {
  INSTSEG_CHECK(num_fcs >= 2, "FFN: num_fcs must be >= 2, got ", num_fcs);
  layers = register_module("layers", torch::nn::ModuleList());
  int64_t in = embed_dims;
  for (int64_t i = 0; i < num_fcs - 1; ++i) {
    torch::nn::ModuleList block;
    block->push_back(torch::nn::Linear(in, feedforward_channels));
    block->push_back(torch::nn::ReLU());
    layers->push_back(block);
    in = feedforward_channels;
  }
  layers->push_back(torch::nn::Linear(feedforward_channels, embed_dims));
}

at::Tensor FFNImpl::forward(const at::Tensor& x) {
  at::Tensor h = x;
  const size_t n = layers->size();
  for (size_t i = 0; i + 1 < n; ++i) {
    auto block = layers->ptr(i)->as<torch::nn::ModuleList>();
    h = at::relu(block->ptr(0)->as<torch::nn::Linear>()->forward(h));
  }
  return x + layers->ptr(n - 1)->as<torch::nn::Linear>()->forward(h);
}

}  // namespace instseg
