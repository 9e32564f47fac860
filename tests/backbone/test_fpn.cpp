#include "instseg/backbone/fpn.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "common/test_util.h"

namespace instseg {
namespace {

// Backbone-like inputs of the fixtures' shrunk models for a 288x384 batch.
std::vector<at::Tensor> fixture_inputs(int64_t n = 1) {
  return {at::randn({n, 16, 72, 96}), at::randn({n, 32, 36, 48}), at::randn({n, 64, 18, 24}),
          at::randn({n, 128, 9, 12})};
}

FPNOptions solov2_options() {
  FPNOptions o;
  o.in_channels = {16, 32, 64, 128};
  o.out_channels = 64;
  o.num_outs = 5;
  return o;
}

FPNOptions queryinst_options() {
  FPNOptions o = solov2_options();
  o.add_extra_convs = "on_input";
  o.num_outs = 4;
  return o;
}

// Independent reference: nearest 2x upsampling as repeat_interleave (exact ratio 2).
std::vector<at::Tensor> reference(FPNImpl& fpn, const std::vector<at::Tensor>& in) {
  std::vector<at::Tensor> lat;
  for (size_t i = 0; i < in.size(); ++i) {
    auto c = fpn.lateral_convs->ptr<ConvModuleImpl>(i);
    lat.push_back(at::conv2d(in[i], c->conv->weight, c->conv->bias));
  }
  for (size_t i = lat.size() - 1; i > 0; --i)
    lat[i - 1] = lat[i - 1] + lat[i].repeat_interleave(2, 2).repeat_interleave(2, 3);
  std::vector<at::Tensor> out;
  for (size_t i = 0; i < lat.size(); ++i) {
    auto c = fpn.fpn_convs->ptr<ConvModuleImpl>(i);
    out.push_back(at::conv2d(lat[i], c->conv->weight, c->conv->bias, {1, 1}, {1, 1}));
  }
  return out;
}

TEST(FPN, SOLOv2FiveLevelsWithMaxPoolP6) {
  at::manual_seed(11);
  FPN fpn(solov2_options());
  EXPECT_EQ(fpn->lateral_convs->size(), 4u);
  EXPECT_EQ(fpn->fpn_convs->size(), 4u);  // no extra conv: P6 is a max-pool
  const auto in = fixture_inputs();
  torch::NoGradGuard g;
  const auto outs = fpn->forward(in);
  ASSERT_EQ(outs.size(), 5u);
  const int64_t hw[5][2] = {{72, 96}, {36, 48}, {18, 24}, {9, 12}, {5, 6}};
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(outs[i].sizes(), (at::IntArrayRef{1, 64, hw[i][0], hw[i][1]})) << "level " << i;
  // max_pool2d(kernel 1, stride 2) = every other pixel starting at 0.
  EXPECT_TRUE(at::equal(outs[4], outs[3].slice(2, 0, 9, 2).slice(3, 0, 12, 2)));
  const auto ref = reference(*fpn, in);
  for (int i = 0; i < 4; ++i) EXPECT_LT(test::norm_rel(outs[i], ref[i]), 1e-6) << "level " << i;
}

TEST(FPN, QueryInstFourLevelsNoExtraConv) {
  at::manual_seed(12);
  FPN fpn(queryinst_options());
  EXPECT_EQ(fpn->fpn_convs->size(), 4u);
  const auto in = fixture_inputs(2);
  torch::NoGradGuard g;
  const auto outs = fpn->forward(in);
  ASSERT_EQ(outs.size(), 4u);
  EXPECT_EQ(outs[3].sizes(), (at::IntArrayRef{2, 64, 9, 12}));
  const auto ref = reference(*fpn, in);
  for (int i = 0; i < 4; ++i) EXPECT_LT(test::norm_rel(outs[i], ref[i]), 1e-6) << "level " << i;
}

TEST(FPN, NamesAndInit) {
  FPN fpn(solov2_options());
  std::set<std::string> keys;
  for (const auto& p : fpn->named_parameters()) keys.insert(p.key());
  EXPECT_EQ(keys.size(), 16u);
  EXPECT_EQ(keys.count("lateral_convs.0.conv.weight"), 1u);
  EXPECT_EQ(keys.count("lateral_convs.3.conv.bias"), 1u);
  EXPECT_EQ(keys.count("fpn_convs.2.conv.weight"), 1u);
  EXPECT_TRUE(fpn->named_buffers().is_empty());
  // xavier_uniform: |w| <= sqrt(6 / (fan_in + fan_out)), bias 0.
  auto c = fpn->fpn_convs->ptr<ConvModuleImpl>(0);
  const double bound = std::sqrt(6.0 / (64 * 9 + 64 * 9));
  EXPECT_LE(c->conv->weight.abs().max().item<double>(), bound);
  EXPECT_GT(c->conv->weight.abs().max().item<double>(), 0.95 * bound);
  EXPECT_TRUE(at::equal(c->conv->bias, at::zeros({64})));
}

TEST(FPN, ExtraConvVariants) {
  at::manual_seed(13);
  const auto in = fixture_inputs();
  torch::NoGradGuard g;
  for (const char* mode : {"on_input", "on_lateral", "on_output"}) {
    FPNOptions o = solov2_options();
    o.add_extra_convs = mode;
    o.num_outs = 6;
    FPN fpn(o);
    ASSERT_EQ(fpn->fpn_convs->size(), 6u) << mode;
    auto e0 = fpn->fpn_convs->ptr<ConvModuleImpl>(4);
    auto e1 = fpn->fpn_convs->ptr<ConvModuleImpl>(5);
    const int64_t in_ch = std::string(mode) == "on_input" ? 128 : 64;
    EXPECT_EQ(e0->conv->weight.sizes(), (at::IntArrayRef{64, in_ch, 3, 3})) << mode;
    EXPECT_EQ(e1->conv->weight.sizes(), (at::IntArrayRef{64, 64, 3, 3})) << mode;
    const auto outs = fpn->forward(in);
    ASSERT_EQ(outs.size(), 6u);
    EXPECT_EQ(outs[4].sizes(), (at::IntArrayRef{1, 64, 5, 6}));
    EXPECT_EQ(outs[5].sizes(), (at::IntArrayRef{1, 64, 3, 3}));
    if (std::string(mode) == "on_input") {
      const at::Tensor e = at::conv2d(in[3], e0->conv->weight, e0->conv->bias, {2, 2}, {1, 1});
      EXPECT_LT(test::norm_rel(outs[4], e), 1e-6);
      const at::Tensor f = at::conv2d(outs[4], e1->conv->weight, e1->conv->bias, {2, 2}, {1, 1});
      EXPECT_LT(test::norm_rel(outs[5], f), 1e-6);
    } else if (std::string(mode) == "on_output") {
      const at::Tensor e = at::conv2d(outs[3], e0->conv->weight, e0->conv->bias, {2, 2}, {1, 1});
      EXPECT_LT(test::norm_rel(outs[4], e), 1e-6);
    }
  }
  // relu_before_extra_convs applies ReLU before the 2nd+ extra conv.
  FPNOptions o = solov2_options();
  o.add_extra_convs = "on_output";
  o.num_outs = 6;
  o.relu_before_extra_convs = true;
  FPN fpn(o);
  const auto outs = fpn->forward(in);
  auto e1 = fpn->fpn_convs->ptr<ConvModuleImpl>(5);
  const at::Tensor f = at::conv2d(at::relu(outs[4]), e1->conv->weight, e1->conv->bias, {2, 2}, {1, 1});
  EXPECT_LT(test::norm_rel(outs[5], f), 1e-6);
}

// start_level 1: inputs[0] unused, laterals over levels 1..3; odd sizes use the
// `size=` nearest rule (9 -> 5 rows upsampled back to 9: floor(d * 5 / 9)).
TEST(FPN, StartLevelAndOddSizes) {
  at::manual_seed(14);
  FPNOptions o = solov2_options();
  o.start_level = 1;
  o.num_outs = 3;
  FPN fpn(o);
  EXPECT_EQ(fpn->lateral_convs->size(), 3u);
  EXPECT_EQ(fpn->lateral_convs->ptr<ConvModuleImpl>(0)->conv->weight.size(1), 32);
  std::vector<at::Tensor> in = {at::randn({1, 16, 36, 36}), at::randn({1, 32, 18, 18}),
                                at::randn({1, 64, 9, 9}), at::randn({1, 128, 5, 5})};
  torch::NoGradGuard g;
  const auto outs = fpn->forward(in);
  ASSERT_EQ(outs.size(), 3u);
  EXPECT_EQ(outs[2].sizes(), (at::IntArrayRef{1, 64, 5, 5}));
  // Reference for level 2 (9x9) = fpn_conv(lat2 + nearest(lat3)), index floor(d * 5 / 9).
  auto l2 = fpn->lateral_convs->ptr<ConvModuleImpl>(1);
  auto l3 = fpn->lateral_convs->ptr<ConvModuleImpl>(2);
  auto f2 = fpn->fpn_convs->ptr<ConvModuleImpl>(1);
  const at::Tensor lat3 = at::conv2d(in[3], l3->conv->weight, l3->conv->bias);
  const at::Tensor idx = at::tensor({0, 0, 1, 1, 2, 2, 3, 3, 4}, at::kLong);
  const at::Tensor up = lat3.index_select(2, idx).index_select(3, idx);
  const at::Tensor lat2 = at::conv2d(in[2], l2->conv->weight, l2->conv->bias) + up;
  const at::Tensor e = at::conv2d(lat2, f2->conv->weight, f2->conv->bias, {1, 1}, {1, 1});
  EXPECT_LT(test::norm_rel(outs[1], e), 1e-6);
}

TEST(FPN, RejectsBadOptions) {
  FPNOptions o = solov2_options();
  o.num_outs = 3;  // fewer than the used levels
  EXPECT_THROW(FPN{o}, c10::Error);
  o = solov2_options();
  o.add_extra_convs = "on_top";
  EXPECT_THROW(FPN{o}, c10::Error);
  FPN fpn(solov2_options());
  auto in = fixture_inputs();
  in.pop_back();
  EXPECT_THROW(fpn->forward(in), c10::Error);
}

}  // namespace
}  // namespace instseg
