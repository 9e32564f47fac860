// DynamicConv (Sparse R-CNN's "dynamic instance interactive" layer, mmdet
// layers/transformer/utils.py): each query generates the weights of a
// two-layer 1x1 "convolution" applied to its own RoI features.
//
// Registered names = mmdet keys: dynamic_layer, norm_in, norm_out, and with
// with_proj fc_layer, fc_norm.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace instseg {

struct DynamicConvOptions {
  int64_t in_channels = 256;
  int64_t feat_channels = 64;
  int64_t out_channels = 256;     // -1: = in_channels
  int64_t input_feat_shape = 7;   // RoI side
  bool with_proj = true;          // box branch: flatten + fc_layer to out_channels
};

class DynamicConvImpl : public torch::nn::Module {
 public:
  explicit DynamicConvImpl(const DynamicConvOptions& options);
  // param_feature [n, in_channels] (queries), input_feature [n, in_channels, S, S]
  // (RoI features). Returns [n, out_channels] with_proj, else [n, S*S, out_channels].
  // P_in = dynamic_layer(q)[:, :in*feat] viewed [n, in, feat]; P_out = the last
  // feat*out values viewed [n, feat, out]; f = RoI as [n, S*S, in] ->
  // ReLU(LN(f P_in)) -> ReLU(LN(. P_out)); the projection flattens position-major
  // (index = hw * out + c), which fc_layer weights from mmdet assume.
  at::Tensor forward(const at::Tensor& param_feature, const at::Tensor& input_feature);

  const DynamicConvOptions& options() const { return options_; }

  torch::nn::Linear dynamic_layer{nullptr};
  torch::nn::LayerNorm norm_in{nullptr}, norm_out{nullptr};
  torch::nn::Linear fc_layer{nullptr};
  torch::nn::LayerNorm fc_norm{nullptr};

 private:
  DynamicConvOptions options_;
  int64_t num_params_in_ = 0, num_params_out_ = 0;
};
TORCH_MODULE(DynamicConv);

}  // namespace instseg
