#include "instseg/solov2/mask_feat_head.h"

#include "instseg/core/check.h"
#include "instseg/layers/interpolate.h"
#include "instseg/layers/weight_init.h"

#include <ATen/ATen.h>

#include <string>

namespace instseg {

at::Tensor generate_coordinate(int64_t batch, int64_t h, int64_t w, const at::TensorOptions& options) {
  at::Tensor x_range = at::linspace(-1, 1, w, options);
  at::Tensor y_range = at::linspace(-1, 1, h, options);
  auto grids = at::meshgrid({y_range, x_range}, "ij");
  at::Tensor y = grids[0].expand({batch, 1, -1, -1});
  at::Tensor x = grids[1].expand({batch, 1, -1, -1});
  return at::cat({x, y}, 1);
}

static ConvModuleOptions mask_conv_options(const MaskFeatModuleOptions& o, int64_t in, int64_t out,
                                           int64_t k, int64_t pad) {
  ConvModuleOptions c(in, out, k);
  c.padding(pad).norm(o.norm_type).num_groups(o.num_groups).norm_requires_grad(o.norm_requires_grad).act("relu");
  c.conv(o.conv_type).deform_groups(o.deform_groups);  // mmdet: conv_cfg for every conv, conv_pred too
  return c;
}

MaskFeatLevelImpl::MaskFeatLevelImpl(const MaskFeatModuleOptions& o, int64_t first_in_channels,
                                     int num_convs, bool upsample)
    : upsample_(upsample) {
  for (int j = 0; j < num_convs; ++j) {
    const int64_t in = j == 0 ? first_in_channels : o.feat_channels;
    convs.push_back(register_module("conv" + std::to_string(j),
                                    ConvModule(mask_conv_options(o, in, o.feat_channels, 3, 1))));
  }
}

at::Tensor MaskFeatLevelImpl::forward(const at::Tensor& x) {
  at::Tensor y = x;
  for (auto& conv : convs) {
    y = conv->forward(y);
    if (upsample_) y = resize_by_scale(y, 2.0, "bilinear", false);  // nn.Upsample(scale_factor=2)
  }
  return y;
}

MaskFeatModuleImpl::MaskFeatModuleImpl(const MaskFeatModuleOptions& o) : options_(o) {
  INSTSEG_CHECK(o.start_level >= 0 && o.end_level >= o.start_level,
                "MaskFeatModule: need 0 <= start_level <= end_level, got ", o.start_level, ", ", o.end_level);
  convs_all_levels = register_module("convs_all_levels", torch::nn::ModuleList());
  for (int i = o.start_level; i <= o.end_level; ++i) {
    MaskFeatLevel level{nullptr};
    if (i == 0) {
      level = MaskFeatLevel(o, o.in_channels, 1, /*upsample=*/false);
    } else {
      // Upstream adds coordinates to the level whose index equals end_level.
      const int64_t in = (i == o.end_level) ? o.in_channels + 2 : o.in_channels;
      level = MaskFeatLevel(o, in, i, /*upsample=*/true);
    }
    convs_all_levels->push_back(level);
    levels_.push_back(level);
  }
  conv_pred = register_module("conv_pred", ConvModule(mask_conv_options(o, o.feat_channels, o.out_channels, 1, 0)));
  reset_parameters();
}

void MaskFeatModuleImpl::reset_parameters() {
  for (auto& level : levels_)
    for (auto& c : level->convs) c->normal_init_conv2d(0.01);
  // conv_pred is a direct child, so after the Normal init mmengine calls its
  // ConvModule.init_weights: a plain conv is kaiming-initialised again (as
  // constructed); a deformable one keeps its weight, and its conv_offset (an
  // nn.Conv2d) keeps the Normal(0, 0.01).
  if (conv_pred->is_deformable()) conv_pred->normal_init_conv2d(0.01);
}

at::Tensor MaskFeatModuleImpl::forward(const std::vector<at::Tensor>& feats) {
  const int n = options_.end_level - options_.start_level + 1;
  INSTSEG_CHECK(static_cast<int>(feats.size()) >= options_.end_level + 1, "MaskFeatModule: need ",
                options_.end_level + 1, " feature levels, got ", feats.size());
  at::Tensor sum = levels_[0]->forward(feats[options_.start_level]);
  for (int i = 1; i < n; ++i) {
    at::Tensor x = feats[options_.start_level + i];
    if (i == n - 1) {
      x = at::cat({x, generate_coordinate(x.size(0), x.size(2), x.size(3), x.options())}, 1);
    }
    sum = sum + levels_[i]->forward(x);  // out of place (mmdet#8221)
  }
  return conv_pred->forward(sum);
}

}  // namespace instseg
