// SOLOv2's unified mask feature branch (mmdet MaskFeatModule): fuses P2..P5
// into one map at 1/mask_stride of the padded input.
//   level 0: conv0 (3x3 conv + GN + ReLU);
//   level i >= 1: i x [conv_j + bilinear x2 upsample]; the deepest level gets
//   the two CoordConv channels [x, y] before its first conv;
//   sum over levels (out of place), then conv_pred (1x1 conv + GN + ReLU).
// Keys: convs_all_levels.{i}.conv{j}.{conv,gn}.*, conv_pred.{conv,gn}.*
#pragma once
#include "instseg/layers/conv_module.h"
#include "instseg/solov2/options.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <vector>

namespace instseg {

// One entry of convs_all_levels: conv0..conv{n-1}, each followed by a x2
// upsample when `upsample` (the upsample{j} modules have no parameters).
class MaskFeatLevelImpl : public torch::nn::Module {
 public:
  MaskFeatLevelImpl(const MaskFeatModuleOptions& o, int64_t first_in_channels, int num_convs, bool upsample);
  at::Tensor forward(const at::Tensor& x);
  std::vector<ConvModule> convs;

 private:
  bool upsample_;
};
TORCH_MODULE(MaskFeatLevel);

class MaskFeatModuleImpl : public torch::nn::Module {
 public:
  explicit MaskFeatModuleImpl(const MaskFeatModuleOptions& options);

  // feats: FPN outputs (at least end_level + 1), [B,in,H_l,W_l].
  // Returns [B,out_channels,H_s,W_s] with (H_s,W_s) the size of feats[start_level].
  at::Tensor forward(const std::vector<at::Tensor>& feats);

  // mmdet init: Normal(0, 0.01) on the level convs; conv_pred keeps
  // ConvModule's kaiming init (mmengine runs ConvModule.init_weights last).
  void reset_parameters();

  const MaskFeatModuleOptions& options() const { return options_; }

  torch::nn::ModuleList convs_all_levels{nullptr};
  ConvModule conv_pred{nullptr};

 private:
  MaskFeatModuleOptions options_;
  std::vector<MaskFeatLevel> levels_;
};
TORCH_MODULE(MaskFeatModule);

// mmdet generate_coordinate: [B,2,H,W] with channel 0 = x = linspace(-1,1,W)
// along width and channel 1 = y = linspace(-1,1,H) along height.
at::Tensor generate_coordinate(int64_t batch, int64_t h, int64_t w, const at::TensorOptions& options);

}  // namespace instseg
