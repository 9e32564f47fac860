#include "instseg/layers/folded_conv_bn.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

namespace instseg {
namespace {

namespace nn = torch::nn;

// A conv -> BN pair with non-trivial running statistics and affine parameters, eval mode.
struct Pair {
  nn::Conv2d conv{nullptr};
  nn::BatchNorm2d bn{nullptr};
};

Pair make_pair(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, int64_t dil, int64_t groups,
               bool bias, at::ScalarType dtype) {
  at::manual_seed(3);
  Pair p;
  p.conv = nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).dilation(dil).groups(groups).bias(bias));
  p.bn = nn::BatchNorm2d(nn::BatchNorm2dOptions(out).eps(1e-3));
  torch::NoGradGuard g;
  p.bn->running_mean.uniform_(-1, 1);
  p.bn->running_var.uniform_(0.2, 3);
  p.bn->weight.uniform_(-2, 2);
  p.bn->bias.uniform_(-1, 1);
  p.conv->to(dtype);
  p.bn->to(dtype);
  p.conv->eval();
  p.bn->eval();
  return p;
}

TEST(FoldedConvBn, HandComputedWeightAndBias) {
  // 1x1 conv, weight 2, bias 0.5; BN mean 1, var 3, eps 1, gamma 4, beta 5:
  // s = 4 / sqrt(3 + 1) = 2, W' = 2 * 2 = 4, b' = 2 * (0.5 - 1) + 5 = 4.
  nn::Conv2d conv(nn::Conv2dOptions(1, 1, 1).bias(true));
  nn::BatchNorm2d bn(nn::BatchNorm2dOptions(1).eps(1.0));
  torch::NoGradGuard g;
  conv->weight.fill_(2);
  conv->bias.fill_(0.5);
  bn->running_mean.fill_(1);
  bn->running_var.fill_(3);
  bn->weight.fill_(4);
  bn->bias.fill_(5);
  bn->eval();
  FoldedConvBn f;
  f.fold(*conv, *bn);
  ASSERT_TRUE(f.current(*conv, *bn));
  EXPECT_FLOAT_EQ(f.weight().item<float>(), 4.0f);
  EXPECT_FLOAT_EQ(f.bias().item<float>(), 4.0f);
  // x = 3: BN(2 * 3 + 0.5) = 2 * (6.5 - 1) + 5 = 16 = 4 * 3 + 4.
  EXPECT_FLOAT_EQ(conv_bn(conv, bn, f, at::full({1, 1, 1, 1}, 3.0)).item<float>(), 16.0f);
}

TEST(FoldedConvBn, MatchesConvThenBatchNormInFloat64AndFloat32) {
  struct Geometry {
    int64_t in, out, k, stride, pad, dil, groups;
    bool bias;
  };
  for (const Geometry& c : {Geometry{3, 8, 7, 2, 3, 1, 1, false}, Geometry{6, 4, 3, 1, 2, 2, 2, true},
                            Geometry{16, 32, 1, 2, 0, 1, 1, false}}) {
    for (at::ScalarType dt : {at::kDouble, at::kFloat}) {
      Pair p = make_pair(c.in, c.out, c.k, c.stride, c.pad, c.dil, c.groups, c.bias, dt);
      const at::Tensor x = at::randn({2, c.in, 13, 17}, at::TensorOptions().dtype(dt));
      torch::NoGradGuard g;
      const at::Tensor ref = p.bn->forward(p.conv->forward(x));
      FoldedConvBn f;
      f.fold(*p.conv, *p.bn);
      ASSERT_TRUE(f.current(*p.conv, *p.bn));
      const at::Tensor y = conv_bn(p.conv, p.bn, f, x);
      ASSERT_EQ(y.sizes(), ref.sizes());
      const double tol = dt == at::kDouble ? 1e-12 : 2e-5;
      EXPECT_LE((y - ref).abs().max().item<double>(), tol * (1 + ref.abs().max().item<double>()))
          << "k " << c.k << " groups " << c.groups << " dtype " << dt;
      // Channels-last input: the same values (oneDNN's native layout).
      const at::Tensor ycl = conv_bn(p.conv, p.bn, f, x.contiguous(at::MemoryFormat::ChannelsLast));
      EXPECT_LE((ycl - ref).abs().max().item<double>(), tol * (1 + ref.abs().max().item<double>()));
    }
  }
}

TEST(FoldedConvBn, StaleFoldsAreNeverUsed) {
  Pair p = make_pair(4, 4, 3, 1, 1, 1, 1, false, at::kFloat);
  const at::Tensor x = at::randn({1, 4, 9, 9});
  torch::NoGradGuard g;
  FoldedConvBn f;
  f.fold(*p.conv, *p.bn);
  ASSERT_TRUE(f.current(*p.conv, *p.bn));

  // Training mode: batch statistics, so the two modules run (bit for bit).
  p.bn->train();
  EXPECT_TRUE(at::equal(conv_bn(p.conv, p.bn, f, x), p.bn->forward(p.conv->forward(x))));
  p.bn->eval();
  // ... and that forward updated the running statistics in place: stale.
  EXPECT_FALSE(f.current(*p.conv, *p.bn));
  EXPECT_TRUE(at::equal(conv_bn(p.conv, p.bn, f, x), p.bn->forward(p.conv->forward(x))));

  f.fold(*p.conv, *p.bn);
  ASSERT_TRUE(f.current(*p.conv, *p.bn));
  p.conv->weight.mul_(1.5);  // an optimizer step / load_state_dict writes in place
  EXPECT_FALSE(f.current(*p.conv, *p.bn));
  EXPECT_TRUE(at::equal(conv_bn(p.conv, p.bn, f, x), p.bn->forward(p.conv->forward(x))));

  f.fold(*p.conv, *p.bn);
  p.bn->weight.set_data(p.bn->weight.detach().clone());  // new storage (what Module::to does)
  EXPECT_FALSE(f.current(*p.conv, *p.bn));

  f.fold(*p.conv, *p.bn);
  f.clear();
  EXPECT_FALSE(f.current(*p.conv, *p.bn));
  EXPECT_FALSE(f.weight().defined());
}

TEST(FoldedConvBn, NothingToFoldWithoutRunningStatistics) {
  nn::Conv2d conv(nn::Conv2dOptions(2, 2, 1).bias(false));
  nn::BatchNorm2d bn(nn::BatchNorm2dOptions(2).track_running_stats(false));
  bn->eval();
  FoldedConvBn f;
  f.fold(*conv, *bn);
  EXPECT_FALSE(f.current(*conv, *bn));
  EXPECT_FALSE(f.weight().defined());
  // A "same"-padded conv: kept as two modules too.
  nn::Conv2d same(nn::Conv2dOptions(2, 2, 3).padding(torch::kSame).bias(false));
  nn::BatchNorm2d bn2(2);
  bn2->eval();
  f.fold(*same, *bn2);
  EXPECT_FALSE(f.current(*same, *bn2));
}

}  // namespace
}  // namespace instseg
