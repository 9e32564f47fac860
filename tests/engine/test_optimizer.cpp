#include "instseg/engine/grad_clip.h"
#include "instseg/engine/optimizer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

namespace instseg {

namespace {
struct ToyBackboneImpl : torch::nn::Module {
  ToyBackboneImpl() {
    conv = register_module("conv", torch::nn::Linear(3, 4));
    bn = register_module("bn", torch::nn::BatchNorm1d(4));
  }
  torch::nn::Linear conv{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
};
TORCH_MODULE(ToyBackbone);

struct NetImpl : torch::nn::Module {
  NetImpl() {
    backbone = register_module("backbone", ToyBackbone());
    head = register_module("head", torch::nn::Linear(4, 2));
    frozen = register_parameter("frozen", at::zeros({2}), /*requires_grad=*/false);
  }
  ToyBackbone backbone{nullptr};
  torch::nn::Linear head{nullptr};
  at::Tensor frozen;
};
TORCH_MODULE(Net);

const ParamGroupInfo* group_of(const BuiltOptimizer& b, const std::string& name) {
  for (const auto& g : b.groups)
    for (const auto& n : g.names)
      if (n == name) return &g;
  return nullptr;
}
}  // namespace

TEST(Optimizer, QueryInstBackboneMultiplier) {
  Net net;
  OptimizerOptions o;
  o.type = "AdamW";
  o.lr = 1e-4;
  o.weight_decay = 1e-4;
  o.custom_keys = {{"backbone", 0.1, 1.0}};
  auto b = build_optimizer(*net, o);
  ASSERT_EQ(b.groups.size(), 2u);
  ASSERT_EQ(b.optimizer->param_groups().size(), 2u);
  const auto* bb = group_of(b, "backbone.conv.weight");
  ASSERT_TRUE(bb);
  EXPECT_DOUBLE_EQ(bb->base_lr, 1e-5);
  EXPECT_DOUBLE_EQ(bb->weight_decay, 1e-4);
  EXPECT_EQ(group_of(b, "backbone.bn.weight"), bb);
  const auto* hd = group_of(b, "head.bias");
  ASSERT_TRUE(hd);
  EXPECT_DOUBLE_EQ(hd->base_lr, 1e-4);
  EXPECT_EQ(group_of(b, "frozen"), nullptr);  // requires_grad=false is left out
  EXPECT_EQ(b.param_names().size(), 6u);
  // The LibTorch groups carry the same values.
  auto& g0 = static_cast<torch::optim::AdamWOptions&>(b.optimizer->param_groups()[0].options());
  EXPECT_DOUBLE_EQ(g0.lr(), 1e-5);
  EXPECT_DOUBLE_EQ(g0.weight_decay(), 1e-4);
}

TEST(Optimizer, LongestKeyWinsAndNormBiasMultipliers) {
  Net net;
  OptimizerOptions o;
  o.type = "SGD";
  o.lr = 0.02;
  o.momentum = 0.9;
  o.weight_decay = 1e-4;
  o.custom_keys = {{"backbone", 0.1, {}}, {"backbone.conv", 0.5, 0.0}};
  o.norm_decay_mult = 0.0;
  o.bias_decay_mult = 0.5;
  o.bias_lr_mult = 2.0;
  auto b = build_optimizer(*net, o);
  const auto* conv = group_of(b, "backbone.conv.bias");
  ASSERT_TRUE(conv);
  EXPECT_DOUBLE_EQ(conv->base_lr, 0.01);  // the longer key "backbone.conv" wins
  EXPECT_DOUBLE_EQ(conv->weight_decay, 0.0);
  const auto* bn = group_of(b, "backbone.bn.bias");
  EXPECT_DOUBLE_EQ(bn->base_lr, 0.002);  // custom key: norm multipliers do not apply
  EXPECT_DOUBLE_EQ(bn->weight_decay, 1e-4);
  const auto* hb = group_of(b, "head.bias");
  EXPECT_DOUBLE_EQ(hb->base_lr, 0.04);
  EXPECT_DOUBLE_EQ(hb->weight_decay, 5e-5);
  const auto* hw = group_of(b, "head.weight");
  EXPECT_DOUBLE_EQ(hw->base_lr, 0.02);
  EXPECT_DOUBLE_EQ(hw->weight_decay, 1e-4);
  auto& sg = static_cast<torch::optim::SGDOptions&>(b.optimizer->param_groups()[0].options());
  EXPECT_DOUBLE_EQ(sg.momentum(), 0.9);
}

TEST(Optimizer, NormDecayMultOnUnmatchedNorm) {
  Net net;
  OptimizerOptions o;
  o.weight_decay = 0.1;
  o.norm_decay_mult = 0.0;
  auto b = build_optimizer(*net, o);
  EXPECT_DOUBLE_EQ(group_of(b, "backbone.bn.weight")->weight_decay, 0.0);
  EXPECT_DOUBLE_EQ(group_of(b, "backbone.conv.weight")->weight_decay, 0.1);
}

TEST(Optimizer, SgdStepUsesGroupLr) {
  // One SGD step without momentum: w -= lr_group * grad.
  Net net;
  OptimizerOptions o;
  o.lr = 1.0;
  o.custom_keys = {{"backbone", 0.1, {}}};
  auto b = build_optimizer(*net, o);
  auto w_bb = net->backbone->conv->weight.detach().clone();
  auto w_hd = net->head->weight.detach().clone();
  for (auto& p : net->parameters())
    if (p.requires_grad()) p.mutable_grad() = at::ones_like(p);
  b.optimizer->step();
  EXPECT_TRUE(at::allclose(net->backbone->conv->weight, w_bb - 0.1));
  EXPECT_TRUE(at::allclose(net->head->weight, w_hd - 1.0));
}

TEST(Optimizer, RejectsUnknownType) {
  Net net;
  OptimizerOptions o;
  o.type = "Adam";
  EXPECT_THROW(build_optimizer(*net, o), c10::Error);
}

TEST(GradClip, GlobalNormAndScaling) {
  auto a = at::zeros({2}, at::requires_grad());
  auto b = at::zeros({1}, at::requires_grad());
  auto c = at::zeros({3}, at::requires_grad());  // no gradient: ignored
  a.mutable_grad() = at::tensor({3.0f, 4.0f});
  b.mutable_grad() = at::tensor({12.0f});
  EXPECT_DOUBLE_EQ(grad_global_norm({a, b, c}), 13.0);
  // max_norm above the norm: unchanged.
  EXPECT_DOUBLE_EQ(clip_grad_norm({a, b, c}, 20.0), 13.0);
  EXPECT_FLOAT_EQ(a.grad()[1].item<float>(), 4.0f);
  // Clip to 6.5: every gradient scaled by 6.5 / (13 + 1e-6).
  EXPECT_DOUBLE_EQ(clip_grad_norm({a, b, c}, 6.5), 13.0);
  const double coef = 6.5 / (13.0 + 1e-6);
  EXPECT_NEAR(a.grad()[0].item<float>(), 3.0 * coef, 1e-6);
  EXPECT_NEAR(b.grad()[0].item<float>(), 12.0 * coef, 1e-6);
  EXPECT_NEAR(grad_global_norm({a, b}), 6.5, 1e-5);
  EXPECT_THROW(clip_grad_norm({a}, 0.0), c10::Error);
  // Non-finite norm: reported, gradients untouched.
  b.mutable_grad() = at::tensor({INFINITY});
  EXPECT_TRUE(std::isinf(clip_grad_norm({a, b}, 1.0)));
  EXPECT_NEAR(a.grad()[0].item<float>(), 3.0 * coef, 1e-6);
}

}  // namespace instseg
