#include "instseg/backbone/res_blocks.h"

#include <ATen/ATen.h>

#include "instseg/core/check.h"

namespace instseg {
namespace nn = torch::nn;

namespace {

nn::Conv2d conv_nobias(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding,
                       int64_t dilation) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k)
                        .stride(stride)
                        .padding(padding)
                        .dilation(dilation)
                        .bias(false));
}

// downsample = Sequential(conv1x1(stride), BN) -> keys downsample.0.weight, downsample.1.*
nn::Sequential make_downsample(int64_t in, int64_t out, int64_t stride) {
  return nn::Sequential(conv_nobias(in, out, 1, stride, 0, 1), nn::BatchNorm2d(out));
}

// downsample = Sequential(conv, BN): its two modules.
nn::Conv2d downsample_conv(const nn::Sequential& downsample) {
  return nn::Conv2d(std::dynamic_pointer_cast<nn::Conv2dImpl>(downsample->ptr(0)));
}
nn::BatchNorm2d downsample_bn(const nn::Sequential& downsample) {
  return nn::BatchNorm2d(std::dynamic_pointer_cast<nn::BatchNorm2dImpl>(downsample->ptr(1)));
}

// The identity path: x, or the downsample conv -> BN through its fold.
at::Tensor identity_of(const nn::Sequential& downsample, const FoldedConvBn& fold, const at::Tensor& x) {
  if (downsample.is_empty()) return x;
  return conv_bn(downsample_conv(downsample), downsample_bn(downsample), fold, x);
}

void fold_downsample(const nn::Sequential& downsample, FoldedConvBn& fold) {
  if (downsample.is_empty()) return;
  fold.fold(*downsample_conv(downsample), *downsample_bn(downsample));
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(const ResBlockOptions& o) {
  INSTSEG_CHECK(o.style == "pytorch" || o.style == "caffe", "BasicBlock: bad style '", o.style, "'");
  conv1 = register_module("conv1", conv_nobias(o.inplanes, o.planes, 3, o.stride, o.dilation,
                                               o.dilation));
  bn1 = register_module("bn1", nn::BatchNorm2d(o.planes));
  conv2 = register_module("conv2", conv_nobias(o.planes, o.planes, 3, 1, 1, 1));
  bn2 = register_module("bn2", nn::BatchNorm2d(o.planes));
  if (o.downsample)
    downsample = register_module("downsample",
                                 make_downsample(o.inplanes, o.planes * kExpansion, o.stride));
}

at::Tensor BasicBlockImpl::forward(const at::Tensor& x) {
  at::Tensor out = at::relu(conv_bn(conv1, bn1, fold1_, x));
  out = conv_bn(conv2, bn2, fold2_, out);
  return at::relu(out + identity_of(downsample, fold_down_, x));
}

void BasicBlockImpl::fold_batchnorm() {
  fold1_.fold(*conv1, *bn1);
  fold2_.fold(*conv2, *bn2);
  fold_downsample(downsample, fold_down_);
}

void BasicBlockImpl::clear_folds() {
  fold1_.clear();
  fold2_.clear();
  fold_down_.clear();
}

BottleneckImpl::BottleneckImpl(const ResBlockOptions& o) {
  INSTSEG_CHECK(o.style == "pytorch" || o.style == "caffe", "Bottleneck: bad style '", o.style,
                "'");
  INSTSEG_CHECK(o.groups >= 1 && o.base_width >= 1 && o.base_channels >= 1,
                "Bottleneck: groups, base_width and base_channels must be >= 1");
  INSTSEG_CHECK(o.conv2_type == "Conv2d" || o.conv2_type == "DCNv2" || o.conv2_type == "DCN",
                "Bottleneck: conv2 must be Conv2d, DCNv2 or DCN, got '", o.conv2_type, "'");
  const int64_t conv1_stride = o.style == "pytorch" ? 1 : o.stride;
  const int64_t conv2_stride = o.style == "pytorch" ? o.stride : 1;
  // mmdet ResNeXt's width rule (integer floor of planes * base_width / base_channels).
  const int64_t width =
      o.groups == 1 ? o.planes : (o.planes * o.base_width / o.base_channels) * o.groups;
  INSTSEG_CHECK(width > 0, "Bottleneck: inner width ", width, " (planes ", o.planes,
                ", base_width ", o.base_width, ")");
  conv1 = register_module("conv1", conv_nobias(o.inplanes, width, 1, conv1_stride, 0, 1));
  bn1 = register_module("bn1", nn::BatchNorm2d(width));
  if (o.conv2_type == "Conv2d") {
    conv2 = register_module(
        "conv2", nn::Conv2d(nn::Conv2dOptions(width, width, 3)
                                .stride(conv2_stride)
                                .padding(o.dilation)
                                .dilation(o.dilation)
                                .groups(o.groups)
                                .bias(false)));
  } else {
    auto d = DeformConvPackOptions(width, width, 3)
                 .stride(conv2_stride)
                 .padding(o.dilation)
                 .dilation(o.dilation)
                 .groups(o.groups)
                 .deform_groups(o.deform_groups)
                 .bias(false);
    if (o.conv2_type == "DCNv2") {
      conv2_dcnv2 = register_module("conv2", ModulatedDeformConv2dPack(d));
    } else {
      conv2_dcn = register_module("conv2", DeformConv2dPack(d));
    }
  }
  bn2 = register_module("bn2", nn::BatchNorm2d(width));
  conv3 = register_module("conv3", conv_nobias(width, o.planes * kExpansion, 1, 1, 0, 1));
  bn3 = register_module("bn3", nn::BatchNorm2d(o.planes * kExpansion));
  if (o.downsample)
    downsample = register_module("downsample",
                                 make_downsample(o.inplanes, o.planes * kExpansion, o.stride));
}

at::Tensor BottleneckImpl::forward(const at::Tensor& x) {
  at::Tensor out = at::relu(conv_bn(conv1, bn1, fold1_, x));
  if (!conv2.is_empty()) {
    out = conv_bn(conv2, bn2, fold2_, out);
  } else if (!conv2_dcnv2.is_empty()) {
    out = bn2->forward(conv2_dcnv2->forward(out));
  } else {
    out = bn2->forward(conv2_dcn->forward(out));
  }
  out = at::relu(out);
  out = conv_bn(conv3, bn3, fold3_, out);
  return at::relu(out + identity_of(downsample, fold_down_, x));
}

void BottleneckImpl::fold_batchnorm() {
  fold1_.fold(*conv1, *bn1);
  if (!conv2.is_empty()) fold2_.fold(*conv2, *bn2);
  fold3_.fold(*conv3, *bn3);
  fold_downsample(downsample, fold_down_);
}

void BottleneckImpl::clear_folds() {
  fold1_.clear();
  fold2_.clear();
  fold3_.clear();
  fold_down_.clear();
}

void BottleneckImpl::reset_deformable_conv2() {
  if (!conv2_dcnv2.is_empty()) conv2_dcnv2->reset_parameters();
}

nn::Sequential make_res_layer(bool bottleneck, int64_t inplanes, int64_t planes,
                              int64_t num_blocks, int64_t stride, int64_t dilation,
                              const ResBlockOptions& block) {
  INSTSEG_CHECK(num_blocks >= 1, "make_res_layer: num_blocks must be >= 1, got ", num_blocks);
  const int64_t expansion = bottleneck ? BottleneckImpl::kExpansion : BasicBlockImpl::kExpansion;
  nn::Sequential layer;
  for (int64_t b = 0; b < num_blocks; ++b) {
    ResBlockOptions o = block;
    o.inplanes = b == 0 ? inplanes : planes * expansion;
    o.planes = planes;
    o.stride = b == 0 ? stride : 1;
    o.dilation = dilation;
    o.downsample = b == 0 && (stride != 1 || inplanes != planes * expansion);
    if (bottleneck) {
      layer->push_back(Bottleneck(o));
    } else {
      layer->push_back(BasicBlock(o));
    }
  }
  return layer;
}

}  // namespace instseg
