#include "instseg/backbone/resnet.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <optional>
#include <string>

#include "instseg/backbone/res_blocks.h"
#include "instseg/core/check.h"
#include "instseg/layers/autocast_off.h"
#include "instseg/layers/weight_init.h"

namespace instseg {
namespace nn = torch::nn;

std::vector<int64_t> resnet_stage_blocks(int depth) {
  switch (depth) {
    case 18: return {2, 2, 2, 2};
    case 34: return {3, 4, 6, 3};
    case 50: return {3, 4, 6, 3};
    case 101: return {3, 4, 23, 3};
    case 152: return {3, 8, 36, 3};
    default: break;
  }
  INSTSEG_CHECK(false, "ResNet: invalid depth ", depth, " (18, 34, 50, 101, 152)");
  return {};
}

bool resnet_is_bottleneck(int depth) {
  resnet_stage_blocks(depth);  // validates
  return depth >= 50;
}

ResNetImpl::ResNetImpl(const ResNetOptions& options) : options_(options) {
  const auto& o = options_;
  const std::vector<int64_t> blocks = resnet_stage_blocks(o.depth);
  bottleneck_ = resnet_is_bottleneck(o.depth);
  INSTSEG_CHECK(o.num_stages >= 1 && o.num_stages <= 4, "ResNet: num_stages must be 1..4, got ",
                o.num_stages);
  INSTSEG_CHECK(static_cast<int>(o.strides.size()) >= o.num_stages &&
                    static_cast<int>(o.dilations.size()) >= o.num_stages,
                "ResNet: strides/dilations need num_stages (", o.num_stages, ") entries");
  INSTSEG_CHECK(!o.out_indices.empty(), "ResNet: out_indices is empty");
  for (int64_t i : o.out_indices)
    INSTSEG_CHECK(i >= 0 && i < o.num_stages, "ResNet: out_index ", i, " outside 0..",
                  o.num_stages - 1);
  out_stages_ = o.out_indices;
  std::sort(out_stages_.begin(), out_stages_.end());
  out_stages_.erase(std::unique(out_stages_.begin(), out_stages_.end()), out_stages_.end());
  INSTSEG_CHECK(o.style == "pytorch" || o.style == "caffe", "ResNet: style must be pytorch or caffe, got '",
                o.style, "'");
  INSTSEG_CHECK(!o.deep_stem, "ResNet: deep_stem is not supported");
  INSTSEG_CHECK(!o.avg_down, "ResNet: avg_down is not supported");
  INSTSEG_CHECK(o.norm_type == "BN" || o.norm_type == "SyncBN",
                "ResNet: norm_cfg.type must be BN or SyncBN, got '", o.norm_type, "'");
  INSTSEG_CHECK(o.frozen_stages >= -1 && o.frozen_stages <= o.num_stages,
                "ResNet: frozen_stages must be -1..", o.num_stages, ", got ", o.frozen_stages);
  INSTSEG_CHECK(o.base_channels > 0 && o.in_channels > 0, "ResNet: bad channel options");
  INSTSEG_CHECK(o.groups >= 1 && o.base_width >= 1, "ResNet: groups and base_width must be >= 1");
  INSTSEG_CHECK(o.groups == 1 || bottleneck_, "ResNeXt: depth must be 50, 101 or 152, got ",
                o.depth);
  INSTSEG_CHECK(o.dcn_type == "Conv2d" || o.dcn_type == "DCNv2" || o.dcn_type == "DCN",
                "ResNet: dcn type must be DCNv2 or DCN, got '", o.dcn_type, "'");
  const bool with_dcn = o.dcn_type != "Conv2d";
  INSTSEG_CHECK(!with_dcn || static_cast<int>(o.stage_with_dcn.size()) == o.num_stages,
                "ResNet: stage_with_dcn needs num_stages (", o.num_stages, ") entries, got ",
                o.stage_with_dcn.size());
  INSTSEG_CHECK(!with_dcn || bottleneck_, "ResNet: dcn needs a Bottleneck ResNet (depth >= 50)");

  const int64_t stem = o.stem_channels > 0 ? o.stem_channels : o.base_channels;
  conv1 = register_module(
      "conv1", nn::Conv2d(nn::Conv2dOptions(o.in_channels, stem, 7).stride(2).padding(3).bias(false)));
  bn1 = register_module("bn1", nn::BatchNorm2d(stem));

  const int64_t expansion = bottleneck_ ? 4 : 1;
  int64_t inplanes = stem;
  int64_t total_stride = 4;  // conv1 /2, max-pool /2
  for (int i = 0; i < o.num_stages; ++i) {
    const int64_t planes = o.base_channels << i;
    ResBlockOptions block;
    block.style = o.style;
    block.groups = o.groups;
    block.base_width = o.base_width;
    block.base_channels = o.base_channels;
    if (with_dcn && o.stage_with_dcn[i]) {
      block.conv2_type = o.dcn_type;
      block.deform_groups = o.dcn_deform_groups;
    }
    auto layer = make_res_layer(bottleneck_, inplanes, planes, blocks[i], o.strides[i],
                                o.dilations[i], block);
    layers.push_back(register_module("layer" + std::to_string(i + 1), layer));
    inplanes = planes * expansion;
    total_stride *= o.strides[i];
    stage_channels_.push_back(inplanes);
    stage_strides_.push_back(total_stride);
  }

  if (!o.norm_requires_grad) {
    for (auto& m : modules(/*include_self=*/false))
      if (auto* bn = m->as<nn::BatchNorm2dImpl>())
        for (auto& p : bn->parameters()) p.set_requires_grad(false);
  }
  reset_parameters();
  // mmdet freezes in __init__ and applies norm_eval in train(); a new module is in
  // training mode, so apply both now: forwarding a fresh module without an explicit
  // train() call must not update frozen BN statistics either.
  train(true);
}

void ResNetImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<nn::Conv2dImpl>()) {
      kaiming_init(conv->weight, conv->options.bias() ? conv->bias : at::Tensor(), 0.0, "fan_out",
                   "relu", "normal", 0.0);
    } else if (auto* bn = m->as<nn::BatchNorm2dImpl>()) {
      constant_init(bn->weight, bn->bias, 1.0, 0.0);
    }
  }
  // mmengine then calls init_weights of the children that have one: a DCNv2
  // conv2 (ModulatedDeformConv2dPack.init_weights) gets its uniform weight and
  // zero offsets back. A DCN conv2 (DeformConv2dPack) has none, so its
  // conv_offset, an nn.Conv2d, keeps the Kaiming init above, as in mmdet.
  for (auto& layer : layers)
    for (auto& child : layer->children())
      if (auto* b = child->as<BottleneckImpl>()) b->reset_deformable_conv2();
  if (options_.zero_init_residual) {
    for (auto& layer : layers) {
      for (auto& child : layer->children()) {
        if (auto* b = child->as<BasicBlockImpl>()) constant_init(b->last_norm()->weight, b->last_norm()->bias, 0.0);
        if (auto* b = child->as<BottleneckImpl>()) constant_init(b->last_norm()->weight, b->last_norm()->bias, 0.0);
      }
    }
  }
}

void ResNetImpl::freeze_stages() {
  const int k = options_.frozen_stages;
  if (k >= 0) {
    bn1->eval();
    for (auto& p : conv1->parameters()) p.set_requires_grad(false);
    for (auto& p : bn1->parameters()) p.set_requires_grad(false);
  }
  for (int i = 1; i <= k && i <= static_cast<int>(layers.size()); ++i) {
    layers[i - 1]->eval();
    for (auto& p : layers[i - 1]->parameters()) p.set_requires_grad(false);
  }
}

void ResNetImpl::train(bool on) {
  nn::Module::train(on);
  freeze_stages();
  if (on && options_.norm_eval) {
    for (auto& m : modules(/*include_self=*/false))
      if (auto* bn = m->as<nn::BatchNorm2dImpl>()) bn->eval();
  }
}

std::vector<at::Tensor> ResNetImpl::forward(const at::Tensor& x) {
  INSTSEG_CHECK(x.dim() == 4 && x.size(1) == options_.in_channels,
                "ResNet: expected [N,", options_.in_channels, ",H,W] input, got ", x.sizes());
  std::optional<AutocastOff> fp32;  // set_fp32_stem: the stem's output stays fp32; the next conv casts it
  if (fp32_stem_ && !is_training() && x.scalar_type() == at::kFloat) fp32.emplace();
  at::Tensor h = at::relu(conv_bn(conv1, bn1, stem_fold_, x));
  fp32.reset();
  h = at::max_pool2d(h, {3, 3}, {2, 2}, {1, 1});
  std::vector<at::Tensor> outs;
  // Like mmdet: outputs in stage order (`if i in out_indices`); stages after the
  // last requested one are skipped (their result would be unused).
  const int last = static_cast<int>(out_stages_.back());
  for (int i = 0; i <= last; ++i) {
    h = layers[i]->forward(h);
    if (std::find(out_stages_.begin(), out_stages_.end(), i) != out_stages_.end()) outs.push_back(h);
  }
  return outs;
}

template <typename F>
void ResNetImpl::for_each_block(F f) {
  for (auto& layer : layers)
    for (auto& child : layer->children()) {
      if (auto* b = child->as<BasicBlockImpl>()) f(*b);
      if (auto* b = child->as<BottleneckImpl>()) f(*b);
    }
}

void ResNetImpl::fold_batchnorm() {
  stem_fold_.fold(*conv1, *bn1);
  for_each_block([](auto& block) { block.fold_batchnorm(); });
}

void ResNetImpl::clear_folds() {
  stem_fold_.clear();
  for_each_block([](auto& block) { block.clear_folds(); });
}

std::vector<int64_t> ResNetImpl::out_channels() const {
  std::vector<int64_t> c;
  for (int64_t i : out_stages_) c.push_back(stage_channels_[i]);
  return c;
}

std::vector<ShapeSpec> ResNetImpl::output_shapes() const {
  std::vector<ShapeSpec> s;
  for (int64_t i : out_stages_) s.push_back({stage_channels_[i], stage_strides_[i]});
  return s;
}

std::vector<int64_t> ResNetImpl::out_strides() const {
  std::vector<int64_t> s;
  for (int64_t i : out_stages_) s.push_back(stage_strides_[i]);
  return s;
}

}  // namespace instseg
