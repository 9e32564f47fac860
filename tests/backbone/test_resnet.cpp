#include "instseg/backbone/resnet.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <tuple>
#include <string>

#include "backbone/backbone_test_util.h"
#include "common/test_util.h"
#include "instseg/backbone/res_blocks.h"

namespace instseg {
namespace {

int64_t count_params(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

ResNetOptions fixture_options() {  // the shrunk fixtures' backbone
  ResNetOptions o;
  o.depth = 18;
  o.base_channels = 16;
  o.frozen_stages = 1;
  return o;
}

// Parity with torchvision.models.resnet{18,50} on deterministic weights
// (tests/data/backbone/make_resnet_fixture.py); eval mode, input 1x3x40x72.
void check_torchvision_parity(int depth) {
  const auto ref = test::load_pt_dict(test::data_path("backbone/resnet_tv_parity.pt"));
  ResNetOptions o;
  o.depth = depth;
  ResNet net(o);
  test::fill_module(*net);
  // Both sides filled identically (a few filled tensors are stored by the script).
  ASSERT_TRUE(at::equal(net->conv1->weight, ref.at("check.conv1.weight")));
  const auto stage4_blocks = net->layers[3]->children();
  const auto last_block = stage4_blocks.back();
  const at::Tensor last_var = depth == 18 ? last_block->as<BasicBlockImpl>()->bn2->running_var
                                          : last_block->as<BottleneckImpl>()->bn3->running_var;
  const std::string prefix = "r" + std::to_string(depth) + ".";
  ASSERT_TRUE(at::equal(last_var, ref.at(prefix + "check.last_bn_running_var")));

  const std::vector<int64_t> shape(ref.at("input_shape").data_ptr<int64_t>(),
                                   ref.at("input_shape").data_ptr<int64_t>() + 4);
  const at::Tensor x = test::make_input(shape);
  ASSERT_TRUE(at::equal(x.flatten().slice(0, 0, 16), ref.at("input_head")));
  net->eval();
  torch::NoGradGuard g;
  const auto outs = net->forward(x);
  ASSERT_EQ(outs.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const at::Tensor& e = ref.at(prefix + "c" + std::to_string(i + 2));
    ASSERT_EQ(outs[i].sizes(), e.sizes()) << "C" << i + 2;
    const double nr = test::norm_rel(outs[i], e);
    EXPECT_LE(nr, 1e-5) << "ResNet-" << depth << " C" << i + 2 << " norm-rel " << nr;
    std::cout << "  ResNet-" << depth << " C" << i + 2 << " norm-rel " << nr << " max-abs "
              << test::max_abs_diff(outs[i], e) << "\n";
    EXPECT_LE(test::max_abs_diff(outs[i], e), 1e-4 * e.abs().max().item<double>());
  }
  // Inference graph (prepare_for_inference): BatchNorm folded into the convs and
  // a channels-last input: the same reference within the same bounds.
  net->fold_batchnorm();
  const auto fast = net->forward(x.contiguous(at::MemoryFormat::ChannelsLast));
  for (int i = 0; i < 4; ++i) {
    const at::Tensor& e = ref.at(prefix + "c" + std::to_string(i + 2));
    const double nr = test::norm_rel(fast[i], e);
    EXPECT_LE(nr, 1e-5) << "folded, channels-last ResNet-" << depth << " C" << i + 2 << " norm-rel " << nr;
    EXPECT_LE(test::max_abs_diff(fast[i], e), 1e-4 * e.abs().max().item<double>());
  }
  // Without the folds: the exact path again, bit for bit.
  net->clear_folds();
  const auto again = net->forward(x);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(at::equal(again[i], outs[i])) << "C" << i + 2;
}

TEST(ResNet, ParityTorchvisionResNet50) { check_torchvision_parity(50); }
TEST(ResNet, ParityTorchvisionResNet18) { check_torchvision_parity(18); }

// Parameter counts = torchvision's resnetN minus fc (hand values: 25,557,032 - 2,049,000 etc.).
TEST(ResNet, ParameterCounts) {
  const std::pair<int, int64_t> cases[] = {
      {18, 11689512 - 513000}, {34, 21797672 - 513000}, {50, 25557032 - 2049000},
      {101, 44549160 - 2049000}};
  for (const auto& [depth, expected] : cases) {
    ResNetOptions o;
    o.depth = depth;
    ResNet net(o);
    EXPECT_EQ(count_params(*net), expected) << "depth " << depth;
  }
}

// ResNeXt: torchvision's resnext*_NxMd without fc (python3-torchvision 0.14:
// 22,979,904 / 81,406,272 / 86,742,336); torchvision's width rule
// int(planes * width_per_group / 64) * groups is mmdet's.
TEST(ResNeXt, ParameterCountsAndWidths) {
  const std::tuple<int, int64_t, int64_t, int64_t> cases[] = {
      {50, 32, 4, 22979904}, {101, 64, 4, 81406272}, {101, 32, 8, 86742336}};
  for (const auto& [depth, groups, width, expected] : cases) {
    ResNetOptions o;
    o.depth = depth;
    o.groups = groups;
    o.base_width = width;
    ResNet net(o);
    EXPECT_EQ(count_params(*net), expected) << depth << " " << groups << "x" << width << "d";
  }
  ResNetOptions o;
  o.depth = 101;
  o.groups = 64;
  ResNet net(o);
  auto* b = net->layers[3]->children()[0]->as<BottleneckImpl>();
  EXPECT_EQ(b->conv2->weight.sizes().vec(), (std::vector<int64_t>{2048, 32, 3, 3}));  // 64 groups
  EXPECT_EQ(b->conv2->options.groups(), 64);
  EXPECT_EQ(b->conv3->weight.sizes().vec(), (std::vector<int64_t>{2048, 2048, 1, 1}));
  EXPECT_EQ(net->out_channels(), (std::vector<int64_t>{256, 512, 1024, 2048}));
  o.depth = 18;
  EXPECT_THROW(ResNet{o}, c10::Error);  // ResNeXt is Bottleneck-only
}

// dcn=dict(type='DCNv2'), stage_with_dcn=(False, True, True, True): conv2 of
// every Bottleneck of stages 2-4 is a ModulatedDeformConv2dPack under mmcv's keys.
TEST(ResNet, DeformableConv2InStages) {
  ResNetOptions o;
  o.depth = 50;
  o.dcn_type = "DCNv2";
  o.stage_with_dcn = {false, true, true, true};
  at::manual_seed(0);
  ResNet net(o);
  int deformable = 0;
  for (const auto& [key, p] : net->named_parameters().pairs())
    if (key.find("conv2.conv_offset.weight") != std::string::npos) {
      ++deformable;
      EXPECT_NE(key.rfind("layer1.", 0), 0u) << key;
    }
  EXPECT_EQ(deformable, 4 + 6 + 3);
  auto* b = net->layers[2]->children()[1]->as<BottleneckImpl>();
  ASSERT_TRUE(b->conv2.is_empty());
  ASSERT_FALSE(b->conv2_dcnv2.is_empty());
  EXPECT_FALSE(b->conv2_dcnv2->bias.defined());  // bias=False
  // mmcv init survives ResNet's Kaiming: zero offsets, uniform(1/sqrt(256*9)) weight.
  EXPECT_EQ(b->conv2_dcnv2->conv_offset->weight.abs().sum().item<double>(), 0.0);
  EXPECT_LE(b->conv2_dcnv2->weight.abs().max().item<double>(), 1.0 / std::sqrt(256.0 * 9.0));
  // R-50 + 13 offset convs of 27 x width x 3 x 3 (+27 bias).
  const int64_t extra = 4 * (243 * 128 + 27) + 6 * (243 * 256 + 27) + 3 * (243 * 512 + 27);
  EXPECT_EQ(count_params(*net), 25557032 - 2049000 + extra);

  // Zero offsets and a saturated mask (sigmoid(40) == 1 in float): the plain
  // ResNet's function, stride-2 first blocks included.
  o.stage_with_dcn = {false, true, true, true};
  ResNetOptions plain_o;
  plain_o.depth = 50;
  plain_o.zero_init_residual = false;  // otherwise every residual branch (conv2 included) is muted
  ResNet plain(plain_o);
  plain->eval();
  net->eval();
  {
    torch::NoGradGuard no_grad;
    auto dst = net->named_parameters();
    for (const auto& [key, t] : plain->named_parameters().pairs()) dst[key].copy_(t);
    auto dbuf = net->named_buffers();
    for (const auto& [key, t] : plain->named_buffers().pairs()) dbuf[key].copy_(t);
    for (auto& [key, t] : dst.pairs()) {
      if (key.find("conv_offset.weight") != std::string::npos) t.zero_();
      if (key.find("conv_offset.bias") != std::string::npos) {
        t.zero_();
        t.narrow(0, 18, 9).fill_(40.0);
      }
    }
  }
  const at::Tensor x = at::randn({1, 3, 64, 96});
  auto a = plain->forward(x), d = net->forward(x);
  ASSERT_EQ(a.size(), d.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_LT(test::max_abs_diff(a[i], d[i]), 1e-3 * (1 + a[i].abs().max().item<double>())) << i;
  {
    torch::NoGradGuard no_grad;
    for (auto& [key, t] : net->named_parameters().pairs())
      if (key.find("conv_offset.bias") != std::string::npos) t.narrow(0, 0, 18).fill_(0.7);
  }
  EXPECT_GT(test::max_abs_diff(a[3], net->forward(x)[3]), 1e-3);

  // DCNv1 (no mask, no bias) with deform_groups 2.
  ResNetOptions v1;
  v1.depth = 50;
  v1.dcn_type = "DCN";
  v1.dcn_deform_groups = 2;
  v1.stage_with_dcn = {true, false, false, false};
  ResNet n1(v1);
  auto* c = n1->layers[0]->children()[0]->as<BottleneckImpl>();
  ASSERT_FALSE(c->conv2_dcn.is_empty());
  EXPECT_EQ(c->conv2_dcn->conv_offset->weight.sizes().vec(), (std::vector<int64_t>{36, 64, 3, 3}));
  EXPECT_EQ(n1->forward(at::randn({1, 3, 32, 32}))[0].sizes().vec(), (std::vector<int64_t>{1, 256, 8, 8}));
}

TEST(ResNet, OutputShapesChannelsStrides) {
  ResNetOptions o;
  o.depth = 50;
  ResNet net(o);
  EXPECT_EQ(net->out_channels(), (std::vector<int64_t>{256, 512, 1024, 2048}));
  EXPECT_EQ(net->out_strides(), (std::vector<int64_t>{4, 8, 16, 32}));
  ResNet small(fixture_options());
  EXPECT_EQ(small->out_channels(), (std::vector<int64_t>{16, 32, 64, 128}));
  small->eval();
  torch::NoGradGuard g;
  const auto outs = small->forward(at::randn({1, 3, 288, 384}));
  ASSERT_EQ(outs.size(), 4u);
  EXPECT_EQ(outs[0].sizes(), (at::IntArrayRef{1, 16, 72, 96}));
  EXPECT_EQ(outs[1].sizes(), (at::IntArrayRef{1, 32, 36, 48}));
  EXPECT_EQ(outs[2].sizes(), (at::IntArrayRef{1, 64, 18, 24}));
  EXPECT_EQ(outs[3].sizes(), (at::IntArrayRef{1, 128, 9, 12}));
}

TEST(ResNet, OutIndicesSubsetInStageOrder) {
  ResNetOptions o = fixture_options();
  o.out_indices = {3, 1};
  ResNet net(o);
  EXPECT_EQ(net->out_channels(), (std::vector<int64_t>{32, 128}));
  EXPECT_EQ(net->out_strides(), (std::vector<int64_t>{8, 32}));
  net->eval();
  torch::NoGradGuard g;
  const auto outs = net->forward(at::randn({2, 3, 64, 64}));
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_EQ(outs[0].sizes(), (at::IntArrayRef{2, 32, 8, 8}));
  EXPECT_EQ(outs[1].sizes(), (at::IntArrayRef{2, 128, 2, 2}));
}

TEST(ResNet, FrozenStagesRequiresGradAndEvalMode) {
  ResNet net(fixture_options());  // frozen_stages 1, norm_eval true
  for (const auto& p : net->named_parameters()) {
    const std::string& k = p.key();
    const bool frozen = k.rfind("conv1.", 0) == 0 || k.rfind("bn1.", 0) == 0 ||
                        k.rfind("layer1.", 0) == 0;
    EXPECT_EQ(p.value().requires_grad(), !frozen) << k;
  }
  // Already at construction (training mode): BNs in eval.
  EXPECT_TRUE(net->is_training());
  EXPECT_FALSE(net->layers[3]->children()[0]->as<BasicBlockImpl>()->bn1->is_training());
  net->eval();
  net->train();
  EXPECT_TRUE(net->is_training());
  EXPECT_FALSE(net->bn1->is_training());
  EXPECT_FALSE(net->layers[0]->is_training());
  EXPECT_TRUE(net->layers[1]->is_training());  // the stage itself trains...
  for (const auto& m : net->modules(false)) {  // ...but norm_eval keeps every BN in eval
    if (m->as<torch::nn::BatchNorm2dImpl>()) {
      EXPECT_FALSE(m->is_training());
    }
  }
  // A frozen stage stays in eval mode even with norm_eval off.
  ResNetOptions o = fixture_options();
  o.norm_eval = false;
  ResNet n2(o);
  n2->train();
  EXPECT_FALSE(n2->layers[0]->children()[0]->as<BasicBlockImpl>()->bn1->is_training());
  EXPECT_TRUE(n2->layers[1]->children()[0]->as<BasicBlockImpl>()->bn1->is_training());
  n2->eval();
  EXPECT_FALSE(n2->layers[1]->children()[0]->as<BasicBlockImpl>()->bn1->is_training());
}

// Train-mode forward with norm_eval: running stats untouched, outputs = eval outputs,
// no gradient reaches the frozen stages; without norm_eval the unfrozen BNs update.
TEST(ResNet, NormEvalKeepsRunningStats) {
  at::manual_seed(7);
  ResNet net(fixture_options());
  std::vector<at::Tensor> before;
  for (const auto& b : net->named_buffers()) before.push_back(b.value().clone());
  const at::Tensor x = at::randn({2, 3, 64, 96});
  net->train();
  const auto outs = net->forward(x);
  at::Tensor loss = at::zeros({});
  for (const auto& o : outs) loss = loss + o.pow(2).mean();
  loss.backward();
  size_t i = 0;
  for (const auto& b : net->named_buffers()) {
    EXPECT_TRUE(at::equal(b.value(), before[i])) << b.key() << " changed";
    ++i;
  }
  for (const auto& p : net->named_parameters()) {
    if (p.value().requires_grad()) {
      EXPECT_TRUE(p.value().grad().defined()) << p.key();
    } else {
      EXPECT_FALSE(p.value().grad().defined()) << p.key();
    }
  }
  net->eval();
  torch::NoGradGuard g;
  const auto eval_outs = net->forward(x);
  for (size_t l = 0; l < outs.size(); ++l) EXPECT_TRUE(at::allclose(outs[l], eval_outs[l]));

  ResNetOptions o = fixture_options();
  o.norm_eval = false;
  ResNet n2(o);
  auto* frozen_bn = n2->layers[0]->children()[0]->as<BasicBlockImpl>()->bn1.get();
  auto* live_bn = n2->layers[1]->children()[0]->as<BasicBlockImpl>()->bn1.get();
  const at::Tensor frozen_mean = frozen_bn->running_mean.clone();
  const at::Tensor live_mean = live_bn->running_mean.clone();
  n2->train();
  n2->forward(x);
  EXPECT_TRUE(at::equal(frozen_bn->running_mean, frozen_mean));
  EXPECT_FALSE(at::equal(live_bn->running_mean, live_mean));
  EXPECT_EQ(live_bn->num_batches_tracked.item<int64_t>(), 1);
}

TEST(ResNet, NormRequiresGradFalse) {
  ResNetOptions o = fixture_options();
  o.frozen_stages = -1;
  o.norm_requires_grad = false;
  ResNet net(o);
  for (const auto& p : net->named_parameters()) {
    const bool is_bn = p.key().find("bn") != std::string::npos ||
                       p.key().find("downsample.1") != std::string::npos;
    EXPECT_EQ(p.value().requires_grad(), !is_bn) << p.key();
  }
}

// mmdet default init: conv kaiming_normal fan_out, BN 1/0, last BN of each block 0.
TEST(ResNet, InitLikeMmdet) {
  at::manual_seed(0);
  ResNetOptions o;
  o.depth = 50;
  ResNet net(o);
  auto* b = net->layers[2]->children()[1]->as<BottleneckImpl>();
  EXPECT_TRUE(at::equal(b->bn3->weight, at::zeros({1024})));
  EXPECT_TRUE(at::equal(b->bn2->weight, at::ones({256})));
  EXPECT_TRUE(at::equal(b->bn2->bias, at::zeros({256})));
  const double expected = std::sqrt(2.0 / (256 * 9));
  EXPECT_NEAR(b->conv2->weight.std().item<double>() / expected, 1.0, 0.02);
  o.zero_init_residual = false;
  ResNet n2(o);
  EXPECT_TRUE(at::equal(n2->layers[2]->children()[1]->as<BottleneckImpl>()->bn3->weight,
                        at::ones({1024})));
}

TEST(ResNet, CaffeStyleStridesConv1) {
  ResNetOptions o;
  o.depth = 50;
  o.style = "caffe";
  ResNet net(o);
  auto* b = net->layers[1]->children()[0]->as<BottleneckImpl>();
  EXPECT_EQ(b->conv1->options.stride()->at(0), 2);
  EXPECT_EQ(b->conv2->options.stride()->at(0), 1);
  o.style = "pytorch";
  ResNet p(o);
  auto* c = p->layers[1]->children()[0]->as<BottleneckImpl>();
  EXPECT_EQ(c->conv1->options.stride()->at(0), 1);
  EXPECT_EQ(c->conv2->options.stride()->at(0), 2);
}

TEST(ResNet, RejectsBadOptions) {
  ResNetOptions o;
  o.depth = 42;
  EXPECT_THROW(ResNet{o}, c10::Error);
  o = ResNetOptions();
  o.deep_stem = true;
  EXPECT_THROW(ResNet{o}, c10::Error);
  o = ResNetOptions();
  o.out_indices = {4};
  EXPECT_THROW(ResNet{o}, c10::Error);
  o = ResNetOptions();
  o.norm_type = "GN";
  EXPECT_THROW(ResNet{o}, c10::Error);
  ResNet net(fixture_options());
  EXPECT_THROW(net->forward(at::zeros({1, 1, 32, 32})), c10::Error);
}

}  // namespace
}  // namespace instseg
