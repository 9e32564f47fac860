#include "instseg/layers/deform_conv_pack.h"

#include <ATen/ATen.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "common/test_util.h"

namespace instseg {
namespace {

std::map<std::string, std::vector<int64_t>> shapes_of(const torch::nn::Module& m) {
  std::map<std::string, std::vector<int64_t>> s;
  for (const auto& p : m.named_parameters()) s[p.key()] = p.value().sizes().vec();
  for (const auto& b : m.named_buffers()) s[b.key()] = b.value().sizes().vec();
  return s;
}

TEST(ModulatedDeformConv2dPack, KeysAndShapesAreMmcvs) {
  ModulatedDeformConv2dPack m(DeformConvPackOptions(4, 8, 3).padding(1).deform_groups(2));
  using S = std::vector<int64_t>;
  EXPECT_EQ(shapes_of(*m), (std::map<std::string, S>{{"weight", S{8, 4, 3, 3}},
                                                      {"bias", S{8}},
                                                      {"conv_offset.weight", S{54, 4, 3, 3}},
                                                      {"conv_offset.bias", S{54}}}));
  ModulatedDeformConv2dPack g(DeformConvPackOptions(4, 6, 3).groups(2).bias(false));
  EXPECT_EQ(shapes_of(*g), (std::map<std::string, S>{{"weight", S{6, 2, 3, 3}},
                                                      {"conv_offset.weight", S{27, 4, 3, 3}},
                                                      {"conv_offset.bias", S{27}}}));
}

TEST(ModulatedDeformConv2dPack, FreshLayerIsHalfAPlainConv) {
  // mmcv init: offsets 0 and mask sigmoid(0) = 0.5, so a fresh layer computes
  // 0.5 * conv(x) + bias; the weight is U(-1/sqrt(in*k*k), +1/sqrt(in*k*k)).
  at::manual_seed(1);
  ModulatedDeformConv2dPack m(DeformConvPackOptions(4, 8, 3).stride(2).padding(1));
  m->to(at::kDouble);
  EXPECT_EQ(m->conv_offset->weight.abs().sum().item<double>(), 0.0);
  EXPECT_EQ(m->conv_offset->bias.abs().sum().item<double>(), 0.0);
  EXPECT_EQ(m->bias.abs().sum().item<double>(), 0.0);
  EXPECT_LE(m->weight.abs().max().item<double>(), 1.0 / 6.0);
  EXPECT_GT(m->weight.abs().max().item<double>(), 0.8 / 6.0);
  {
    at::NoGradGuard g;
    m->bias.uniform_(-1, 1);
  }
  auto x = at::randn({2, 4, 9, 10}, at::kDouble);
  auto ref = 0.5 * at::conv2d(x, m->weight, {}, 2, 1) + m->bias.view({1, -1, 1, 1});
  EXPECT_LT(test::max_abs_diff(m->forward(x), ref), 1e-12);
}

TEST(ModulatedDeformConv2dPack, OffsetConvChannelsFollowMmcvsChunkAndCat) {
  // conv_offset's 3*dg*k*k outputs are chunked in three: (o1, o2, m); the op's
  // offset is cat(o1, o2) read as (dy, dx) per tap, the mask sigmoid(m).
  at::manual_seed(2);
  DeformConvPackOptions o(3, 2, 3);
  o.padding(1);
  ModulatedDeformConv2dPack m(o);
  m->to(at::kDouble);
  auto x = at::randn({1, 3, 6, 7}, at::kDouble);
  auto bias = at::randn({27}, at::kDouble);
  {
    at::NoGradGuard g;
    m->conv_offset->bias.copy_(bias);
  }
  auto offset = bias.slice(0, 0, 18).view({1, 18, 1, 1}).expand({1, 18, 6, 7}).contiguous();
  auto mask = at::sigmoid(bias.slice(0, 18, 27)).view({1, 9, 1, 1}).expand({1, 9, 6, 7});
  auto ref = modulated_deform_conv2d(x, offset, mask.contiguous(), m->weight, m->bias,
                                     m->op_options());
  EXPECT_LT(test::max_abs_diff(m->forward(x), ref), 1e-12);
  // A 1x1 layer whose offset conv says dy = 1, dx = 0, mask = 1 reads the next row.
  ModulatedDeformConv2dPack s(DeformConvPackOptions(1, 1, 1).bias(false));
  s->to(at::kDouble);
  {
    at::NoGradGuard g;
    s->weight.fill_(1.0);
    s->conv_offset->bias.copy_(at::tensor({1.0, 0.0, 100.0}, at::kDouble));
  }
  auto img = at::arange(20, at::kDouble).view({1, 1, 4, 5});
  auto shifted = at::cat({img.slice(2, 1, 4), at::zeros({1, 1, 1, 5}, at::kDouble)}, 2);
  EXPECT_TRUE(at::equal(s->forward(img), shifted));
}

// CPU autocast on for the scope, as at::autocast::set_cpu_enabled(true) turns it
// on (the same call in LibTorch 1.13 and 2.x).
struct ScopedCpuAutocast {
  ScopedCpuAutocast() { c10::impl::tls_set_dispatch_key_excluded(c10::DispatchKey::AutocastCPU, false); }
  ~ScopedCpuAutocast() { c10::impl::tls_set_dispatch_key_excluded(c10::DispatchKey::AutocastCPU, true); }
};

TEST(ModulatedDeformConv2dPack, TrainsItsOffsetConvUnderAutocast) {
  at::manual_seed(3);
  ModulatedDeformConv2dPack m(DeformConvPackOptions(4, 4, 3).padding(1));
  auto x = at::randn({1, 4, 6, 6});
  (m->forward(x) * at::randn({1, 4, 6, 6})).sum().backward();
  EXPECT_GT(m->conv_offset->weight.grad().abs().sum().item<float>(), 0.0f);
  EXPECT_GT(m->conv_offset->bias.grad().abs().sum().item<float>(), 0.0f);
  EXPECT_GT(m->weight.grad().abs().sum().item<float>(), 0.0f);
  // Under CPU autocast the offset conv runs in bf16 and the deformable conv in
  // float32.
  {
    at::NoGradGuard g;
    m->conv_offset->weight.normal_(0, 0.1);
  }
  at::Tensor ya;
  {
    ScopedCpuAutocast autocast;
    ya = m->forward(x);
  }
  EXPECT_EQ(ya.scalar_type(), at::kFloat);
  EXPECT_LT(test::max_abs_diff(ya, m->forward(x)), 0.05);
}

TEST(DeformConv2dPack, KeysInitAndNoBias) {
  at::manual_seed(4);
  DeformConv2dPack m(DeformConvPackOptions(8, 16, 3).padding(1).bias(false));
  using S = std::vector<int64_t>;
  EXPECT_EQ(shapes_of(*m), (std::map<std::string, S>{{"weight", S{16, 8, 3, 3}},
                                                      {"conv_offset.weight", S{18, 8, 3, 3}},
                                                      {"conv_offset.bias", S{18}}}));
  // kaiming_uniform_(relu, fan_in): bound sqrt(2) * sqrt(3 / (8*9)).
  const double bound = std::sqrt(2.0) * std::sqrt(3.0 / 72.0);
  EXPECT_LE(m->weight.abs().max().item<double>(), bound + 1e-6);
  EXPECT_GT(m->weight.abs().max().item<double>(), 0.9 * bound);
  EXPECT_EQ(m->conv_offset->weight.abs().sum().item<double>(), 0.0);
  // Zero offsets: a plain convolution.
  auto x = at::randn({1, 8, 5, 6});
  EXPECT_LT(test::max_abs_diff(m->forward(x), at::conv2d(x, m->weight, {}, 1, 1)), 1e-4);
  // mmcv's DeformConv2d has no bias.
  EXPECT_THROW(DeformConv2dPack(DeformConvPackOptions(8, 16, 3)), c10::Error);
  EXPECT_THROW(DeformConv2dPack(DeformConvPackOptions(8, 16, 3).bias(false).deform_groups(3)),
               c10::Error);
}

}  // namespace
}  // namespace instseg
