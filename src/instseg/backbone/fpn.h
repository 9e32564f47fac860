// mmdet.models.necks.FPN.
//
// Registered names equal mmdet's state-dict keys under `neck.`:
// lateral_convs.<i>.conv (1x1) and fpn_convs.<i>.conv (3x3, padding 1) for the used
// backbone levels start_level..end_level, then fpn_convs.<n>.. for extra stride-2
// convs when add_extra_convs != "none". Without norm, the convs have a bias
// (ConvModule bias='auto') and no activation (act_cfg None).
//
// Forward (mmdet semantics):
//   lat_i = lateral_convs.i(in[i + start_level]);
//   top-down, i = L-1 .. 1: lat_{i-1} += interpolate(lat_i, size=lat_{i-1}.shape, mode)
//   out_i = fpn_convs.i(lat_i)
//   extra levels (num_outs > L):
//     "none":  out.append(max_pool2d(out[-1], kernel 1, stride 2))  (SOLOv2's P6)
//     else:    source = in[backbone_end_level-1] (on_input) | lat[-1] (on_lateral) |
//              out[-1] (on_output); out.append(fpn_convs.L(source)); further ones take
//              out[-1] (through ReLU when relu_before_extra_convs).
// Initialisation as mmdet's FPN init_cfg: xavier_uniform on every conv, bias 0.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

#include "instseg/backbone/options.h"
#include "instseg/layers/conv_module.h"

namespace instseg {

class FPNImpl : public torch::nn::Module {
 public:
  explicit FPNImpl(const FPNOptions& options);

  // inputs: the backbone outputs, inputs[i]: [N,in_channels[i],H_i,W_i].
  // Returns num_outs maps [N,out_channels,H'_j,W'_j]: the used levels at their input
  // sizes, then extras of size (n - 1) / 2 + 1 per axis (kernel 1 or 3/pad 1, stride 2).
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs);

  // mmdet init (xavier_uniform, bias 0); called by the constructor.
  void reset_parameters();

  const FPNOptions& options() const { return options_; }
  // Number of backbone levels the FPN consumes (backbone_end_level - start_level).
  int num_used_levels() const { return backbone_end_level_ - options_.start_level; }

  torch::nn::ModuleList lateral_convs{nullptr};  // ConvModule each
  torch::nn::ModuleList fpn_convs{nullptr};      // ConvModule each

 private:
  FPNOptions options_;
  int backbone_end_level_ = 0;  // exclusive
};
TORCH_MODULE(FPN);

}  // namespace instseg
