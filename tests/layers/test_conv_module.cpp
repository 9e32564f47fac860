#include "instseg/layers/conv_module.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "common/test_util.h"

namespace instseg {
namespace {

std::set<std::string> keys_of(const torch::nn::Module& m) {
  std::set<std::string> k;
  for (const auto& p : m.named_parameters()) k.insert(p.key());
  for (const auto& b : m.named_buffers()) k.insert(b.key());
  return k;
}

TEST(ConvModule, NamesWithoutNormHaveBias) {
  ConvModule m(ConvModuleOptions(4, 8, 3).padding(1).act("none"));
  EXPECT_EQ(keys_of(*m), (std::set<std::string>{"conv.weight", "conv.bias"}));
  EXPECT_TRUE(m->with_bias());
  EXPECT_FALSE(m->with_norm());
  EXPECT_FALSE(m->with_activation());
}

TEST(ConvModule, BatchNormIsNamedBnAndDropsBias) {
  ConvModule m(ConvModuleOptions(4, 8, 3).padding(1).norm("BN"));
  EXPECT_EQ(keys_of(*m),
            (std::set<std::string>{"conv.weight", "bn.weight", "bn.bias", "bn.running_mean",
                                   "bn.running_var", "bn.num_batches_tracked"}));
  EXPECT_EQ(m->bn->options.eps(), 1e-5);
  EXPECT_EQ(m->bn->options.momentum().value(), 0.1);
}

TEST(ConvModule, GroupNormIsNamedGn) {
  ConvModule m(ConvModuleOptions(4, 64, 3).padding(1).norm("GN").num_groups(32));
  EXPECT_EQ(keys_of(*m), (std::set<std::string>{"conv.weight", "gn.weight", "gn.bias"}));
  EXPECT_EQ(m->gn->options.num_groups(), 32);
  // SyncBN is built as BN (single process) and named bn like mmcv.
  ConvModule s(ConvModuleOptions(4, 8, 1).norm("SyncBN"));
  EXPECT_FALSE(s->bn.is_empty());
}

TEST(ConvModule, GroupNormRunsInFloat32ForBf16Input) {
  // CPU bf16 autocast hands GN a bf16 tensor; LibTorch 1.13 rejects that with
  // fp32 parameters, so ConvModule normalises in the parameters' dtype.
  at::manual_seed(3);
  ConvModule ref(ConvModuleOptions(4, 32, 1).norm("GN").num_groups(8));
  ConvModule b(ConvModuleOptions(4, 32, 1).norm("GN").num_groups(8));
  {
    at::NoGradGuard g;
    b->conv->weight.copy_(ref->conv->weight);
  }
  b->conv->to(at::kBFloat16);
  auto x = at::randn({1, 4, 5, 6});
  at::Tensor y;
  ASSERT_NO_THROW(y = b->forward(x.to(at::kBFloat16)));
  EXPECT_EQ(y.scalar_type(), at::kFloat);
  EXPECT_LT(test::max_abs_diff(y, ref->forward(x)), 0.1);
}

TEST(ConvModule, ExplicitBiasWithNorm) {
  ConvModule m(ConvModuleOptions(4, 8, 3).norm("BN").bias(true));
  EXPECT_TRUE(m->with_bias());
  EXPECT_EQ(keys_of(*m).count("conv.bias"), 1u);
  ConvModule n(ConvModuleOptions(4, 8, 3).bias(false));
  EXPECT_EQ(keys_of(*n).count("conv.bias"), 0u);
}

TEST(ConvModule, DeformableConvKeysAreMmcvs) {
  // conv_cfg=dict(type='DCNv2') with GN: no conv bias, offset conv under conv.
  ConvModule m(ConvModuleOptions(4, 64, 3).padding(1).norm("GN").conv("DCNv2"));
  EXPECT_EQ(keys_of(*m), (std::set<std::string>{"conv.weight", "conv.conv_offset.weight",
                                                "conv.conv_offset.bias", "gn.weight",
                                                "gn.bias"}));
  EXPECT_TRUE(m->is_deformable());
  EXPECT_EQ(m->conv_weight().sizes(), (std::vector<int64_t>{64, 4, 3, 3}));
  EXPECT_FALSE(m->conv_bias().defined());
  EXPECT_EQ(m->dcnv2->conv_offset->weight.size(0), 27);
  // Without a norm DCNv2 keeps a bias; deform_groups sizes the offset conv.
  ConvModule b(ConvModuleOptions(4, 8, 3).padding(1).conv("DCNv2").deform_groups(2));
  EXPECT_EQ(keys_of(*b).count("conv.bias"), 1u);
  EXPECT_TRUE(b->conv_bias().defined());
  EXPECT_EQ(b->dcnv2->conv_offset->weight.size(0), 54);
  // DCN (v1) with BN: offsets only (2*k*k channels), never a bias.
  ConvModule v1(ConvModuleOptions(4, 8, 3).padding(1).norm("BN").conv("DCN"));
  EXPECT_EQ(keys_of(*v1),
            (std::set<std::string>{"conv.weight", "conv.conv_offset.weight",
                                   "conv.conv_offset.bias", "bn.weight", "bn.bias",
                                   "bn.running_mean", "bn.running_var",
                                   "bn.num_batches_tracked"}));
  EXPECT_EQ(v1->dcn->conv_offset->weight.size(0), 18);
  // mmcv: bias='auto' without a norm asks DeformConv2d for a bias, which it rejects.
  EXPECT_THROW(ConvModule(ConvModuleOptions(4, 8, 3).conv("DCN")), c10::Error);
  EXPECT_NO_THROW(ConvModule(ConvModuleOptions(4, 8, 3).conv("DCN").bias(false)));
  EXPECT_THROW(ConvModule(ConvModuleOptions(4, 8, 3).conv("DCNv3")), c10::Error);
}

TEST(ConvModule, DeformableConvInitAndForward) {
  at::manual_seed(6);
  // DCNv2 keeps its own init (mmcv: the conv has init_weights): uniform within
  // 1/sqrt(in*k*k) = 1/sqrt(72), not kaiming.
  ConvModule m(ConvModuleOptions(8, 32, 3).padding(1).norm("GN").num_groups(8).conv("DCNv2"));
  EXPECT_LE(m->conv_weight().abs().max().item<float>(), 1.0f / std::sqrt(72.0f));
  EXPECT_EQ(m->dcnv2->conv_offset->weight.abs().sum().item<float>(), 0.0f);
  // A fresh DCNv2 is half a plain conv (mask sigmoid(0)), then GN and ReLU.
  auto x = at::randn({2, 8, 7, 6});
  ConvModule plain(ConvModuleOptions(8, 32, 3).padding(1).norm("GN").num_groups(8));
  {
    at::NoGradGuard g;
    plain->conv->weight.copy_(m->conv_weight() * 0.5);
  }
  EXPECT_LT(test::max_abs_diff(m->forward(x), plain->forward(x)), 1e-4);
  // DCN has no init_weights, so ConvModule kaiming-normals its weight (fan_out):
  // std sqrt(2 / (32*9)) = 0.083.
  ConvModule v1(ConvModuleOptions(64, 32, 3).padding(1).norm("BN").conv("DCN"));
  const double std = v1->conv_weight().std().item<double>();
  EXPECT_NEAR(std, std::sqrt(2.0 / (32 * 9)), 0.01);
  EXPECT_EQ(v1->dcn->conv_offset->weight.abs().sum().item<float>(), 0.0f);
}

TEST(ConvModule, RejectsBadOptions) {
  EXPECT_THROW(ConvModule(ConvModuleOptions(4, 30, 3).norm("GN").num_groups(32)), c10::Error);
  EXPECT_THROW(ConvModule(ConvModuleOptions(4, 8, 3).norm("LN")), c10::Error);
  EXPECT_THROW(ConvModule(ConvModuleOptions(4, 8, 3).act("gelu")), c10::Error);
  ConvModule m(ConvModuleOptions(4, 8, 3));
  EXPECT_THROW(m->forward(at::zeros({1, 3, 5, 5})), c10::Error);
}

// Hand-computed: 1x1 conv, weight 2, bias -1, ReLU on [[0,1],[2,-3]] -> [[0,1],[3,0]].
TEST(ConvModule, HandComputedConvRelu) {
  ConvModule m(ConvModuleOptions(1, 1, 1));
  {
    torch::NoGradGuard g;
    m->conv->weight.fill_(2.0);
    m->conv->bias.fill_(-1.0);
  }
  const at::Tensor x = at::tensor({0.f, 1.f, 2.f, -3.f}).view({1, 1, 2, 2});
  const at::Tensor y = m->forward(x);
  EXPECT_TRUE(at::equal(y, at::tensor({0.f, 1.f, 3.f, 0.f}).view({1, 1, 2, 2}))) << y;
}

// Hand-computed BN (eval): (x - mean) / sqrt(var + eps) * w + b, then no activation.
TEST(ConvModule, HandComputedBatchNormEval) {
  ConvModule m(ConvModuleOptions(1, 1, 1).norm("BN").act("none"));
  {
    torch::NoGradGuard g;
    m->conv->weight.fill_(1.0);
    m->bn->running_mean.fill_(1.0);
    m->bn->running_var.fill_(4.0 - 1e-5);
    m->bn->weight.fill_(3.0);
    m->bn->bias.fill_(0.5);
  }
  m->eval();
  const at::Tensor y = m->forward(at::tensor({1.f, 3.f, -1.f, 5.f}).view({1, 1, 2, 2}));
  // (x - 1) / 2 * 3 + 0.5 -> 0.5, 3.5, -2.5, 6.5
  EXPECT_LT(test::max_abs_diff(y, at::tensor({0.5f, 3.5f, -2.5f, 6.5f}).view({1, 1, 2, 2})), 1e-6);
}

// GN + ReLU equals the functional composition.
TEST(ConvModule, GroupNormMatchesFunctional) {
  at::manual_seed(3);
  ConvModule m(ConvModuleOptions(6, 8, 3).stride(2).padding(1).norm("GN").num_groups(4));
  {
    torch::NoGradGuard g;
    m->gn->weight.uniform_(0.5, 1.5);
    m->gn->bias.uniform_(-0.5, 0.5);
  }
  const at::Tensor x = at::randn({2, 6, 9, 7});
  const at::Tensor ref = at::relu(at::group_norm(
      at::conv2d(x, m->conv->weight, {}, {2, 2}, {1, 1}), 4, m->gn->weight, m->gn->bias, 1e-5));
  const at::Tensor y = m->forward(x);
  EXPECT_EQ(y.sizes(), (at::IntArrayRef{2, 8, 5, 4}));
  EXPECT_LT(test::norm_rel(y, ref), 1e-6);
}

// mmcv ConvModule.init_weights: kaiming_normal fan_out relu (std sqrt(2 / (out*k*k))), bias 0,
// norm weight 1 / bias 0.
TEST(ConvModule, InitLikeMmcv) {
  at::manual_seed(0);
  ConvModule m(ConvModuleOptions(64, 256, 3).padding(1).norm("GN"));
  const double expected_std = std::sqrt(2.0 / (256 * 9));
  const double std = m->conv->weight.std().item<double>();
  EXPECT_NEAR(std / expected_std, 1.0, 0.02);
  EXPECT_NEAR(m->conv->weight.mean().item<double>(), 0.0, 0.01 * expected_std * 10);
  EXPECT_TRUE(at::equal(m->gn->weight, at::ones({256})));
  EXPECT_TRUE(at::equal(m->gn->bias, at::zeros({256})));
  ConvModule b(ConvModuleOptions(8, 16, 1).act("none"));
  EXPECT_TRUE(at::equal(b->conv->bias, at::zeros({16})));
}

TEST(ConvModule, NormRequiresGradFalseFreezesAffine) {
  ConvModule m(ConvModuleOptions(4, 8, 3).norm("BN").norm_requires_grad(false));
  EXPECT_FALSE(m->bn->weight.requires_grad());
  EXPECT_FALSE(m->bn->bias.requires_grad());
  EXPECT_TRUE(m->conv->weight.requires_grad());
}

}  // namespace
}  // namespace instseg
