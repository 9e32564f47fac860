// Net2WiderNet for SOLOv2 (solov2/widen.h): hand-computed copies and
// divisions; a wider SOLOv2 with the widened weights computes the narrow
// one's outputs (backbone BatchNorm at a non-integer factor, GroupNorm head at
// x2, coordinate convs, the dynamic-kernel dot product); the noise breaks the
// copies' symmetry and is reproducible; errors name the key.
#include "instseg/solov2/widen.h"

#include "instseg/checkpoint/state_dict.h"
#include "instseg/core/check.h"
#include "instseg/solov2/solov2.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

namespace instseg {
namespace {

int64_t num_parameters(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

at::Tensor t4(std::vector<float> v, std::vector<int64_t> shape) { return at::tensor(v).view(shape); }

TEST(WidenSolov2, CopiesOutputsAndDividesInputsByHand) {
  // a: 1 -> 2 channels, b: 2 -> 1; widened to 4 middle channels.
  TensorDict src, dst;
  src.set("neck.a.conv.weight", t4({1, 2}, {2, 1, 1, 1}));
  src.set("neck.a.conv.bias", at::tensor({0.5f, -1.f}));
  src.set("neck.b.conv.weight", t4({3, 4}, {1, 2, 1, 1}));
  dst.set("neck.a.conv.weight", at::zeros({4, 1, 1, 1}));
  dst.set("neck.a.conv.bias", at::zeros({4}));
  dst.set("neck.b.conv.weight", at::zeros({1, 4, 1, 1}));
  const TensorDict w = widen_solov2_state_dict(src, dst);
  EXPECT_TRUE(at::equal(w.at("neck.a.conv.weight").flatten(), at::tensor({1.f, 1.f, 2.f, 2.f})));
  EXPECT_TRUE(at::equal(w.at("neck.a.conv.bias"), at::tensor({0.5f, 0.5f, -1.f, -1.f})));
  EXPECT_TRUE(at::equal(w.at("neck.b.conv.weight").flatten(), at::tensor({1.5f, 1.5f, 2.f, 2.f})));
  // b(a(x)) for x = 1: 3 * 1.5 + 4 * 1 = 8.5 before, 1.5*1.5*2 + 2*1*2 = 8.5 after.
}

TEST(WidenSolov2, NonIntegerFactorCopiesSomeChannels) {
  // 4 -> 5 channels: new j copies floor(j * 4 / 5) = 0, 0, 1, 2, 3; channel 0's
  // consumers divide by its 2 copies.
  TensorDict src, dst;
  src.set("backbone.x.weight", t4({1, 2, 3, 4}, {4, 1, 1, 1}));
  src.set("backbone.y.weight", t4({10, 20, 30, 40}, {1, 4, 1, 1}));
  dst.set("backbone.x.weight", at::zeros({5, 1, 1, 1}));
  dst.set("backbone.y.weight", at::zeros({1, 5, 1, 1}));
  const TensorDict w = widen_solov2_state_dict(src, dst);
  EXPECT_TRUE(at::equal(w.at("backbone.x.weight").flatten(), at::tensor({1.f, 1.f, 2.f, 3.f, 4.f})));
  EXPECT_TRUE(at::equal(w.at("backbone.y.weight").flatten(), at::tensor({5.f, 5.f, 20.f, 30.f, 40.f})));
}

TEST(WidenSolov2, CoordinatesStayAndTheDynamicKernelIsDivided) {
  TensorDict src, dst;
  // kernel_convs.0 takes 2 features + x, y.
  src.set("mask_head.kernel_convs.0.conv.weight", t4({1, 2, 7, 8}, {1, 4, 1, 1}));
  dst.set("mask_head.kernel_convs.0.conv.weight", at::zeros({1, 6, 1, 1}));
  // conv_kernel: D = 2 -> 4 outputs, each copy halved (the dot product with the
  // mask features, whose channels are copied too, stays the same).
  src.set("mask_head.conv_kernel.weight", t4({2, 4}, {2, 1, 1, 1}));
  src.set("mask_head.conv_kernel.bias", at::tensor({6.f, 8.f}));
  dst.set("mask_head.conv_kernel.weight", at::zeros({4, 1, 1, 1}));
  dst.set("mask_head.conv_kernel.bias", at::zeros({4}));
  const TensorDict w = widen_solov2_state_dict(src, dst);
  EXPECT_TRUE(at::equal(w.at("mask_head.kernel_convs.0.conv.weight").flatten(),
                        at::tensor({0.5f, 0.5f, 1.f, 1.f, 7.f, 8.f})));
  EXPECT_TRUE(at::equal(w.at("mask_head.conv_kernel.weight").flatten(), at::tensor({1.f, 1.f, 2.f, 2.f})));
  EXPECT_TRUE(at::equal(w.at("mask_head.conv_kernel.bias"), at::tensor({3.f, 3.f, 4.f, 4.f})));
}

TEST(WidenSolov2, ErrorsNameTheKey) {
  auto expect_error = [](const TensorDict& src, const TensorDict& dst, const std::string& needle) {
    try {
      widen_solov2_state_dict(src, dst);
      ADD_FAILURE() << "no error; expected one mentioning " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  TensorDict a, b;
  a.set("neck.a.conv.weight", at::zeros({4, 2, 3, 3}));
  b.set("neck.a.conv.weight", at::zeros({2, 2, 3, 3}));
  expect_error(a, b, "neck.a.conv.weight: target [2, 2, 3, 3] is narrower");
  b = TensorDict();
  b.set("neck.a.conv.weight", at::zeros({4, 2, 1, 1}));
  expect_error(a, b, "kernel sizes differ");
  b = TensorDict();
  b.set("neck.other.weight", at::zeros({4, 2, 3, 3}));
  expect_error(a, b, "the source has 'neck.a.conv.weight'");
  TensorDict c, d;
  c.set("mask_head.conv_cls.weight", at::zeros({3, 4, 3, 3}));
  d.set("mask_head.conv_cls.weight", at::zeros({6, 8, 3, 3}));
  expect_error(c, d, "class count differs");
  TensorDict g, h;
  g.set("mask_head.cls_convs.0.gn.weight", at::ones({4}));
  h.set("mask_head.cls_convs.0.gn.weight", at::ones({6}));
  expect_error(g, h, "only integer factors");
  expect_error(TensorDict(), b, "the target model has 'neck.other.weight'");
  TensorDict e;
  e.set("neck.a.conv.weight", at::zeros({4, 2, 3, 3}));
  try {
    WidenOptions o;
    o.noise = -1;
    widen_solov2_state_dict(e, e, o);
    ADD_FAILURE() << "negative noise accepted";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("noise must be >= 0"), std::string::npos) << err.what();
  }
}

// A small SOLOv2 (ResNet-18 at width 8, FPN 16, head 16 in GN groups of 4,
// mask features 8 -> D 16) and its widening (ResNet width 10: x1.25, FPN and
// head x2).
SOLOv2Options small(int64_t base, int64_t k) {
  SOLOv2Options o;
  o.backbone.resnet.depth = 18;
  o.backbone.resnet.base_channels = base;
  o.backbone.resnet.frozen_stages = -1;
  o.neck.in_channels = {base, 2 * base, 4 * base, 8 * base};
  o.neck.out_channels = 16 * k;
  o.neck.num_outs = 5;
  SOLOv2HeadOptions& h = o.mask_head;
  h.num_classes = 3;
  h.in_channels = 16 * k;
  h.feat_channels = 16 * k;
  h.stacked_convs = 2;
  h.num_groups = 4;
  h.mask_feature_head.feat_channels = 8 * k;
  h.mask_feature_head.out_channels = 16 * k;
  h.mask_feature_head.num_groups = 4;
  return o;
}

// Every floating-point weight and statistic random (a fresh model has GN/BN
// weights 1, biases 0 and running statistics 0 / 1, which would hide mistakes
// in copying them).
void randomize(SOLOv2Impl& m) {
  at::manual_seed(3);
  at::NoGradGuard ng;
  for (const auto& [key, t] : module_state_dict(m)) {
    if (!t.is_floating_point()) continue;
    if (key.find("running_var") != std::string::npos)
      t.uniform_(0.5, 2.0);
    else
      t.normal_(0.0, key.find("conv") != std::string::npos ? 0.2 : 0.5);
  }
}

// Per level: the mask logits of every grid cell (kernel . mask features, the
// dynamic 1x1 convolution) and the category logits.
std::vector<at::Tensor> outputs(SOLOv2Impl& m, const at::Tensor& x) {
  at::NoGradGuard ng;
  const SOLOv2HeadOutputs h = m.mask_head->forward(m.extract_feat(x));
  std::vector<at::Tensor> r;
  for (size_t l = 0; l < h.kernel_preds.size(); ++l) {
    r.push_back(at::einsum("bdst,bdhw->bsthw", {h.kernel_preds[l], h.mask_feats}));
    r.push_back(h.cls_preds[l]);
  }
  return r;
}

TEST(WidenSolov2, TheWiderModelComputesTheSameFunction) {
  SOLOv2 narrow(small(8, 1)), wide(small(10, 2));
  randomize(*narrow);
  narrow->eval();
  wide->eval();
  const TensorDict widened = widen_solov2_state_dict(module_state_dict(*narrow), module_state_dict(*wide));
  const LoadReport rep = load_state_dict_into(*wide, widened, /*strict=*/true);
  EXPECT_TRUE(rep.ok());
  EXPECT_GT(num_parameters(*wide), 3 * num_parameters(*narrow) / 2);

  at::manual_seed(5);
  const at::Tensor x = at::randn({2, 3, 64, 96});
  const std::vector<at::Tensor> a = outputs(*narrow, x), b = outputs(*wide, x);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].sizes(), b[i].sizes()) << "output " << i;
    const double scale = a[i].abs().max().item<double>();
    EXPECT_GT(scale, 1e-3) << "output " << i << " is ~0: the comparison would prove nothing";
    EXPECT_LT((a[i] - b[i]).abs().max().item<double>(), 1e-4 * scale + 1e-5) << "output " << i;
  }

  // Training mode too: BatchNorm's batch statistics of the copies equal the originals'.
  narrow->train();
  wide->train();
  at::NoGradGuard ng;
  const std::vector<at::Tensor> fa = narrow->extract_feat(x), fb = wide->extract_feat(x);
  for (size_t l = 0; l < fa.size(); ++l) {
    // FPN level l of the wide model: channel 2c and 2c+1 copy channel c.
    const at::Tensor even = fb[l].index({at::indexing::Slice(), at::indexing::Slice(0, at::indexing::None, 2)});
    EXPECT_LT((fa[l] - even).abs().max().item<double>(), 1e-4 * fa[l].abs().max().item<double>()) << "P" << l + 2;
  }
}

TEST(WidenSolov2, NoiseBreaksTheCopiesSymmetryReproducibly) {
  SOLOv2 narrow(small(8, 1)), wide(small(10, 2));
  randomize(*narrow);
  const TensorDict src = module_state_dict(*narrow), dst = module_state_dict(*wide);
  WidenOptions o;
  o.noise = 0.05;
  o.seed = 7;
  const TensorDict n1 = widen_solov2_state_dict(src, dst, o), n2 = widen_solov2_state_dict(src, dst, o);
  const TensorDict exact = widen_solov2_state_dict(src, dst);
  const std::string key = "mask_head.cls_convs.1.conv.weight";  // 32 x 32: rows 2c, 2c+1 copy row c
  const at::Tensor w = n1.at(key), e = exact.at(key);
  EXPECT_TRUE(at::equal(w, n2.at(key))) << "same seed, different noise";
  EXPECT_TRUE(at::equal(w[0], e[0])) << "the first copy of a channel keeps its weights";
  EXPECT_TRUE(at::equal(e[0], e[1])) << "without noise the copies are equal";
  const double diff = (w[1] - w[0]).abs().max().item<double>();
  const double sd = src.at(key).std().item<double>();
  EXPECT_GT(diff, 0.005 * sd);
  EXPECT_LT(diff, 0.5 * sd);
  o.seed = 8;
  EXPECT_FALSE(at::equal(widen_solov2_state_dict(src, dst, o).at(key), w)) << "the seed is not used";
}

}  // namespace
}  // namespace instseg
