#include "instseg/backbone/fpn.h"

#include <ATen/ATen.h>

#include "instseg/core/check.h"
#include "instseg/layers/interpolate.h"
#include "instseg/layers/weight_init.h"

namespace instseg {
namespace nn = torch::nn;

FPNImpl::FPNImpl(const FPNOptions& options) : options_(options) {
  const auto& o = options_;
  const int num_ins = static_cast<int>(o.in_channels.size());
  INSTSEG_CHECK(num_ins >= 1, "FPN: in_channels is empty");
  INSTSEG_CHECK(o.out_channels > 0, "FPN: bad out_channels ", o.out_channels);
  INSTSEG_CHECK(o.start_level >= 0 && o.start_level < num_ins, "FPN: start_level ", o.start_level,
                " outside 0..", num_ins - 1);
  if (o.end_level == -1 || o.end_level == num_ins - 1) {
    backbone_end_level_ = num_ins;
    INSTSEG_CHECK(o.num_outs >= num_ins - o.start_level, "FPN: num_outs ", o.num_outs,
                  " < used input levels ", num_ins - o.start_level);
  } else {
    INSTSEG_CHECK(o.end_level >= o.start_level && o.end_level < num_ins, "FPN: bad end_level ",
                  o.end_level);
    backbone_end_level_ = o.end_level + 1;
    INSTSEG_CHECK(o.num_outs == o.end_level - o.start_level + 1,
                  "FPN: with end_level, num_outs must be end_level - start_level + 1");
  }
  INSTSEG_CHECK(o.add_extra_convs == "none" || o.add_extra_convs == "on_input" ||
                    o.add_extra_convs == "on_lateral" || o.add_extra_convs == "on_output",
                "FPN: add_extra_convs must be none|on_input|on_lateral|on_output, got '",
                o.add_extra_convs, "'");
  INSTSEG_CHECK(o.upsample_mode == "nearest" || o.upsample_mode == "bilinear",
                "FPN: upsample mode must be nearest or bilinear, got '", o.upsample_mode, "'");

  auto conv_opts = [&](int64_t in, int64_t k, int64_t stride, bool norm) {
    return ConvModuleOptions(in, o.out_channels, k)
        .stride(stride)
        .padding(k / 2)
        .norm(norm ? o.norm_type : std::string("none"))
        .num_groups(o.norm_num_groups)
        .act(o.act);
  };
  lateral_convs = register_module("lateral_convs", nn::ModuleList());
  fpn_convs = register_module("fpn_convs", nn::ModuleList());
  for (int i = o.start_level; i < backbone_end_level_; ++i) {
    lateral_convs->push_back(ConvModule(conv_opts(o.in_channels[i], 1, 1, !o.no_norm_on_lateral)));
    fpn_convs->push_back(ConvModule(conv_opts(o.out_channels, 3, 1, true)));
  }
  const int extra_levels = o.num_outs - backbone_end_level_ + o.start_level;
  if (o.add_extra_convs != "none") {
    for (int i = 0; i < extra_levels; ++i) {
      const int64_t in = (i == 0 && o.add_extra_convs == "on_input")
                             ? o.in_channels[backbone_end_level_ - 1]
                             : o.out_channels;
      fpn_convs->push_back(ConvModule(conv_opts(in, 3, 2, true)));
    }
  }
  reset_parameters();
}

void FPNImpl::reset_parameters() {
  for (auto& m : modules(/*include_self=*/false))
    if (auto* conv = m->as<nn::Conv2dImpl>())
      xavier_init(conv->weight, conv->options.bias() ? conv->bias : at::Tensor(), 1.0, "uniform",
                  0.0);
}

std::vector<at::Tensor> FPNImpl::forward(const std::vector<at::Tensor>& inputs) {
  const auto& o = options_;
  INSTSEG_CHECK(inputs.size() == o.in_channels.size(), "FPN: expected ", o.in_channels.size(),
                " inputs, got ", inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i)
    INSTSEG_CHECK(inputs[i].dim() == 4 && inputs[i].size(1) == o.in_channels[i], "FPN: input ", i,
                  " must be [N,", o.in_channels[i], ",H,W], got ", inputs[i].sizes());

  const int used = static_cast<int>(lateral_convs->size());
  std::vector<at::Tensor> laterals;
  for (int i = 0; i < used; ++i)
    laterals.push_back(lateral_convs->ptr<ConvModuleImpl>(i)->forward(inputs[i + o.start_level]));

  for (int i = used - 1; i > 0; --i) {
    const int64_t h = laterals[i - 1].size(2), w = laterals[i - 1].size(3);
    const at::Tensor up = o.upsample_mode == "nearest" ? resize_nearest(laterals[i], h, w)
                                                       : resize_bilinear(laterals[i], h, w, false);
    laterals[i - 1] = laterals[i - 1] + up;  // not in place: laterals[i-1] may be needed later
  }

  std::vector<at::Tensor> outs;
  for (int i = 0; i < used; ++i) outs.push_back(fpn_convs->ptr<ConvModuleImpl>(i)->forward(laterals[i]));

  if (o.num_outs > used) {
    if (o.add_extra_convs == "none") {
      for (int i = 0; i < o.num_outs - used; ++i)
        outs.push_back(at::max_pool2d(outs.back(), {1, 1}, {2, 2}));
    } else {
      at::Tensor source;
      if (o.add_extra_convs == "on_input") {
        source = inputs[backbone_end_level_ - 1];
      } else if (o.add_extra_convs == "on_lateral") {
        source = laterals.back();
      } else {
        source = outs.back();
      }
      outs.push_back(fpn_convs->ptr<ConvModuleImpl>(used)->forward(source));
      for (int i = used + 1; i < o.num_outs; ++i) {
        const at::Tensor prev = o.relu_before_extra_convs ? at::relu(outs.back()) : outs.back();
        outs.push_back(fpn_convs->ptr<ConvModuleImpl>(i)->forward(prev));
      }
    }
  }
  return outs;
}

}  // namespace instseg
