// Deformable convolution (DCNv2 / DCNv1) against torchvision.ops.deform_conv2d
// (float64 oracle computed at test time by tests/data/ops/deform_conv_oracle.py),
// a scalar reference that runs the per-sample rule shared with the CUDA
// kernels, finite differences, hand-computed samples, and plain conv2d.
#include "common/test_util.h"
#include "instseg/ops/deform_conv.h"
#include "ops/deform_conv_reference.h"

#include <ATen/ATen.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/autograd.h>
#include <torch/serialize.h>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

namespace instseg {
namespace {

using Dict = c10::Dict<c10::IValue, c10::IValue>;

// The oracle's tensors, computed once per process by the first python3 that
// imports torch and torchvision ($INSTSEG_PYTHON, python3, /usr/bin/python3);
// null when there is none (the script exits 77 on ImportError).
const Dict* oracle() {
  static std::unique_ptr<Dict> dict;
  static bool tried = false;
  if (tried) return dict.get();
  tried = true;
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("INSTSEG_PYTHON")) candidates.push_back(env);
  candidates.push_back("python3");
  candidates.push_back("/usr/bin/python3");
  const std::string path = test::temp_dir("deform_conv") + "/oracle.pt";
  for (const auto& py : candidates) {
    const std::string cmd = py + " " + test::data_path("ops/deform_conv_oracle.py") + " " + path +
                            " >/dev/null 2>&1";
    const int rc = std::system(cmd.c_str());
    if (rc == -1 || !WIFEXITED(rc)) continue;
    const int status = WEXITSTATUS(rc);
    if (status == 77 || status == 127) continue;  // no torchvision / no such python
    if (status != 0) {
      ADD_FAILURE() << cmd << " failed with status " << status << " (rerun it to see why)";
      return nullptr;
    }
    std::ifstream f(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(f)),
                            std::istreambuf_iterator<char>());
    dict = std::make_unique<Dict>(torch::pickle_load(bytes).toGenericDict());
    return dict.get();
  }
  return nullptr;
}

#define REQUIRE_ORACLE(d)                                                                    \
  const Dict* d = oracle();                                                                  \
  if (!d) GTEST_SKIP() << "python3 with torch and torchvision not found (set INSTSEG_PYTHON); " \
                          "skipping the torchvision oracle"

at::Tensor optional_tensor(const Dict& d, const std::string& k) {
  return d.contains(k) ? d.at(k).toTensor() : at::Tensor();
}

struct Case {
  at::Tensor input, offset, mask, weight, bias;
  DeformConvOptions opt;
};

Case load_case(const Dict& d, const std::string& name) {
  const std::string p = name + ".";
  Case c;
  c.input = optional_tensor(d, p + "input");
  c.offset = optional_tensor(d, p + "offset");
  c.mask = optional_tensor(d, p + "mask");
  c.weight = optional_tensor(d, p + "weight");
  c.bias = optional_tensor(d, p + "bias");
  auto v = optional_tensor(d, p + "params");
  auto at_ = [&](int i) { return v[i].item<int64_t>(); };
  c.opt.stride = {at_(0), at_(1)};
  c.opt.padding = {at_(2), at_(3)};
  c.opt.dilation = {at_(4), at_(5)};
  c.opt.groups = at_(6);
  c.opt.deform_groups = at_(7);
  return c;
}

// Runs the op with autograd (DCNv1 when the case has no mask) and returns
// {output, grad_input, grad_offset, grad_mask, grad_weight, grad_bias}.
std::vector<at::Tensor> run_op(const Case& c, const at::Tensor& grad_output) {
  auto x = c.input.clone().requires_grad_(true);
  auto off = c.offset.clone().requires_grad_(true);
  auto w = c.weight.clone().requires_grad_(true);
  at::Tensor m, b;
  at::Tensor y;
  if (c.mask.defined()) {
    m = c.mask.clone().requires_grad_(true);
    if (c.bias.defined()) b = c.bias.clone().requires_grad_(true);
    y = modulated_deform_conv2d(x, off, m, w, b, c.opt);
  } else {
    y = deform_conv2d(x, off, w, c.opt);
  }
  y.backward(grad_output);
  return {y.detach(), x.grad(), off.grad(), m.defined() ? m.grad() : at::Tensor(), w.grad(),
          b.defined() ? b.grad() : at::Tensor()};
}

// True where offset entry (dy or dx of a sample) belongs to a sample at exactly
// y == -1 or x == -1: mmcv's gradient is 0 there, torchvision's one-sided.
at::Tensor samples_at_minus_one(const Case& c) {
  const auto g = detail::deform_geom(c.input, c.offset, c.weight, c.opt);
  auto flag = at::zeros_like(c.offset, at::kBool);
  auto off = c.offset.accessor<double, 4>();
  auto f = flag.accessor<bool, 4>();
  for (int64_t b = 0; b < c.offset.size(0); ++b)
    for (int dg = 0; dg < g.deform_groups; ++dg)
      for (int k = 0; k < g.taps; ++k)
        for (int oy = 0; oy < g.out_h; ++oy)
          for (int ox = 0; ox < g.out_w; ++ox) {
            const int64_t ch = (dg * g.taps + k) * 2;
            const double y = oy * g.stride_h - g.pad_h + (k / g.kw) * g.dil_h + off[b][ch][oy][ox];
            const double x =
                ox * g.stride_w - g.pad_w + (k % g.kw) * g.dil_w + off[b][ch + 1][oy][ox];
            if (y == -1.0 || x == -1.0) f[b][ch][oy][ox] = f[b][ch + 1][oy][ox] = true;
          }
  return flag;
}

const char* kCases[] = {"basic",   "groups_dg_stride2", "dilation2",  "rect_kernel", "outside",
                        "integer", "v1",                "v1_integer", "k1_stride2"};

TEST(DeformConv, MatchesTorchvisionFloat64ForwardAndGradients) {
  REQUIRE_ORACLE(d);
  for (std::string name : kCases) {
    SCOPED_TRACE(name);
    const std::string p = name + ".";
    const Case c = load_case(*d, name);
    auto r = run_op(c, optional_tensor(*d, p + "grad_output"));
    ASSERT_EQ(r[0].sizes(), optional_tensor(*d, p + "output").sizes());
    EXPECT_LT(test::max_abs_diff(r[0], optional_tensor(*d, p + "output")), 1e-10);
    EXPECT_LT(test::max_abs_diff(r[1], optional_tensor(*d, p + "grad_input")), 1e-10);
    EXPECT_LT(test::max_abs_diff(r[4], optional_tensor(*d, p + "grad_weight")), 1e-10);
    if (c.mask.defined()) {
      EXPECT_LT(test::max_abs_diff(r[3], optional_tensor(*d, p + "grad_mask")), 1e-10);
    }
    if (c.bias.defined()) {
      EXPECT_LT(test::max_abs_diff(r[5], optional_tensor(*d, p + "grad_bias")), 1e-10);
    }
    // Offsets: equal except at samples exactly on y == -1 or x == -1, where
    // mmcv's rule (followed here) gives 0 and torchvision a one-sided slope.
    auto edge = samples_at_minus_one(c);
    auto tv = optional_tensor(*d, p + "grad_offset");
    EXPECT_LT(test::max_abs_diff(r[2].masked_fill(edge, 0), tv.masked_fill(edge, 0)), 1e-10);
    EXPECT_EQ(r[2].masked_select(edge).abs().sum().item<double>(), 0.0);
    if (name == "integer" || name == "v1_integer") {
      EXPECT_GT(edge.sum().item<int64_t>(), 0) << "the case should hit y or x == -1";
    }
    EXPECT_GT(r[2].abs().sum().item<double>(), 0.0);
  }
  // float32: the same rule in single precision.
  DeformConvOptions o;
  o.padding = {1, 1};
  o.deform_groups = 2;
  o.groups = 2;
  auto y = modulated_deform_conv2d(optional_tensor(*d, "f32.input"), optional_tensor(*d, "f32.offset"),
                                   optional_tensor(*d, "f32.mask"), optional_tensor(*d, "f32.weight"),
                                   optional_tensor(*d, "f32.bias"), o);
  EXPECT_EQ(y.scalar_type(), at::kFloat);
  EXPECT_LT(test::max_abs_diff(y, optional_tensor(*d, "f32.output")), 1e-4);
}

TEST(DeformConv, ScalarReferenceMatchesTorchvision) {
  // The reference runs deform_conv_sampling.h, the CUDA kernels' per-sample rule.
  REQUIRE_ORACLE(d);
  for (std::string name : kCases) {
    SCOPED_TRACE(name);
    const std::string p = name + ".";
    const Case c = load_case(*d, name);
    auto y = test::reference_forward(c.input, c.offset, c.mask, c.weight, c.bias, c.opt);
    EXPECT_LT(test::max_abs_diff(y, optional_tensor(*d, p + "output")), 1e-10);
    auto g = test::reference_backward(optional_tensor(*d, p + "grad_output"), c.input, c.offset, c.mask,
                                      c.weight, c.bias.defined(), c.opt);
    EXPECT_LT(test::max_abs_diff(g.input, optional_tensor(*d, p + "grad_input")), 1e-10);
    EXPECT_LT(test::max_abs_diff(g.weight, optional_tensor(*d, p + "grad_weight")), 1e-10);
    if (c.mask.defined()) {
      EXPECT_LT(test::max_abs_diff(g.mask, optional_tensor(*d, p + "grad_mask")), 1e-10);
    }
    auto edge = samples_at_minus_one(c);
    EXPECT_LT(test::max_abs_diff(g.offset.masked_fill(edge, 0),
                                 optional_tensor(*d, p + "grad_offset").masked_fill(edge, 0)),
              1e-10);
  }
}

// Random float64 problem; offsets scaled by `spread` (some samples fall outside).
Case random_case(int64_t b, int64_t c, int64_t h, int64_t w, int64_t cout, int64_t k,
                 const DeformConvOptions& o, double spread, bool modulated, bool bias) {
  Case r;
  r.opt = o;
  const int64_t ho = (h + 2 * o.padding[0] - (o.dilation[0] * (k - 1) + 1)) / o.stride[0] + 1;
  const int64_t wo = (w + 2 * o.padding[1] - (o.dilation[1] * (k - 1) + 1)) / o.stride[1] + 1;
  r.input = at::randn({b, c, h, w}, at::kDouble);
  r.offset = at::randn({b, 2 * o.deform_groups * k * k, ho, wo}, at::kDouble) * spread;
  if (modulated) r.mask = at::rand({b, o.deform_groups * k * k, ho, wo}, at::kDouble);
  r.weight = at::randn({cout, c / o.groups, k, k}, at::kDouble);
  if (bias) r.bias = at::randn({cout}, at::kDouble);
  return r;
}

TEST(DeformConv, FastKernelMatchesReferenceAcrossChunks) {
  // 32 channels x 9 taps x 121^2 pixels = 4.2M column entries: more than one
  // chunk of the CPU kernel's 4M-element column buffer.
  at::manual_seed(11);
  DeformConvOptions o;
  o.padding = {1, 1};
  o.groups = 2;
  o.deform_groups = 2;
  const Case c = random_case(1, 32, 121, 121, 4, 3, o, 3.0, true, true);
  auto gout = at::randn({1, 4, 121, 121}, at::kDouble);
  auto r = run_op(c, gout);
  EXPECT_LT(test::max_abs_diff(r[0], test::reference_forward(c.input, c.offset, c.mask, c.weight,
                                                             c.bias, c.opt)),
            1e-10);
  auto g = test::reference_backward(gout, c.input, c.offset, c.mask, c.weight, true, c.opt);
  EXPECT_LT(test::max_abs_diff(r[1], g.input), 1e-10);
  EXPECT_LT(test::max_abs_diff(r[2], g.offset), 1e-10);
  EXPECT_LT(test::max_abs_diff(r[3], g.mask), 1e-10);
  EXPECT_LT(test::max_abs_diff(r[4], g.weight), 1e-9);
  EXPECT_LT(test::max_abs_diff(r[5], g.bias), 1e-10);
}

TEST(DeformConv, FiniteDifferenceGradientsFloat64) {
  at::manual_seed(5);
  DeformConvOptions o;
  o.stride = {2, 1};
  o.padding = {1, 2};
  o.dilation = {1, 2};
  o.groups = 2;
  o.deform_groups = 2;
  const Case c = random_case(2, 4, 6, 7, 4, 3, o, 1.5, true, true);
  auto probe = test::reference_forward(c.input, c.offset, c.mask, c.weight, c.bias, c.opt);
  auto weights = at::randn(probe.sizes(), at::kDouble);
  auto loss = [&](const std::vector<at::Tensor>& t) {
    return (modulated_deform_conv2d(t[0], t[1], t[2], t[3], t[4], c.opt) * weights)
        .sum()
        .item<double>();
  };
  auto r = run_op(c, weights);
  const std::vector<at::Tensor> base{c.input, c.offset, c.mask, c.weight, c.bias};
  const char* names[] = {"input", "offset", "mask", "weight", "bias"};
  const int grad_index[] = {1, 2, 3, 4, 5};
  const double eps = 1e-6;
  for (int t = 0; t < 5; ++t) {
    SCOPED_TRACE(names[t]);
    auto numeric = at::zeros_like(base[t]);
    auto nflat = numeric.view(-1);
    for (int64_t i = 0; i < base[t].numel(); ++i) {
      auto plus = base, minus = base;
      plus[t] = base[t].clone();
      minus[t] = base[t].clone();
      plus[t].view(-1)[i] += eps;
      minus[t].view(-1)[i] -= eps;
      nflat[i] = (loss(plus) - loss(minus)) / (2 * eps);
    }
    // Linear in everything but the offsets; bilinear (piecewise linear along
    // each axis) in the offsets, so central differences are exact up to
    // rounding unless a sample crosses a pixel line within eps.
    EXPECT_LT(test::max_abs_diff(r[grad_index[t]], numeric), 1e-6);
    EXPECT_GT(r[grad_index[t]].abs().sum().item<double>(), 0.0);
  }
}

TEST(DeformConv, ZeroOffsetsAndUnitMaskEqualConv2d) {
  at::manual_seed(3);
  DeformConvOptions o;
  o.stride = {2, 1};
  o.padding = {1, 2};
  o.dilation = {2, 1};
  o.groups = 3;
  o.deform_groups = 3;
  Case c = random_case(2, 6, 9, 8, 6, 3, o, 0.0, true, true);
  c.mask.fill_(1.0);
  auto ref = at::conv2d(c.input, c.weight, c.bias, {2, 1}, {1, 2}, {2, 1}, 3);
  auto y = modulated_deform_conv2d(c.input, c.offset, c.mask, c.weight, c.bias, o);
  ASSERT_EQ(y.sizes(), ref.sizes());
  EXPECT_LT(test::max_abs_diff(y, ref), 1e-12);
  auto y1 = deform_conv2d(c.input, c.offset, c.weight, o);
  EXPECT_LT(test::max_abs_diff(y1, at::conv2d(c.input, c.weight, {}, {2, 1}, {1, 2}, {2, 1}, 3)),
            1e-12);
}

TEST(DeformConv, HandComputedSamplesAndBorderRule) {
  // 1x1 kernel, weight 1, one channel: the output is the sample itself.
  auto x = at::arange(12, at::kDouble).view({1, 1, 3, 4});  // value = 4*y + x
  auto w = at::ones({1, 1, 1, 1}, at::kDouble);
  auto off = at::zeros({1, 2, 3, 4}, at::kDouble);
  auto put = [&](int oy, int ox, double dy, double dx) {
    off[0][0][oy][ox] = dy;
    off[0][1][oy][ox] = dx;
  };
  put(0, 0, 0.5, 0.25);   // (0.5, 0.25): inside, 4*0.5 + 0.25 = 2.25
  put(0, 1, -0.5, 0.0);   // (-0.5, 1): half of row 0 (the row above reads 0) = 0.5
  put(0, 2, 2.5, -1.0);   // (2.5, 1): half of row 2, col 1 = 0.5 * 9 = 4.5
  put(0, 3, -1.0, 0.0);   // (-1, 3): on the border line -1 -> 0
  put(1, 0, 2.0, 0.0);    // (3, 0): y == H -> 0
  put(1, 1, 0.0, 2.75);   // (1, 3.75): 0.25 * (4*1 + 3) = 1.75
  put(1, 2, 0.0, 0.0);    // (1, 2): exact pixel = 6
  DeformConvOptions o;
  auto y = deform_conv2d(x, off, w, o);
  EXPECT_DOUBLE_EQ(y[0][0][0][0].item<double>(), 2.25);
  EXPECT_DOUBLE_EQ(y[0][0][0][1].item<double>(), 0.5);
  EXPECT_DOUBLE_EQ(y[0][0][0][2].item<double>(), 4.5);
  EXPECT_DOUBLE_EQ(y[0][0][0][3].item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(y[0][0][1][0].item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(y[0][0][1][1].item<double>(), 1.75);
  EXPECT_DOUBLE_EQ(y[0][0][1][2].item<double>(), 6.0);
  // Offset gradients (upstream 1): d/dy at (-0.5, 1) is row 0's value 1 (the
  // row above is 0); at (-1, 3) mmcv's rule gives 0 in both directions; at the
  // exact pixel (1, 2) the slope of the cell below / to the right: 4 and 1.
  auto offg = off.clone().requires_grad_(true);
  deform_conv2d(x, offg, w, o).sum().backward();
  auto g = offg.grad();
  EXPECT_DOUBLE_EQ(g[0][0][0][1].item<double>(), 1.0);
  EXPECT_DOUBLE_EQ(g[0][0][0][3].item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(g[0][1][0][3].item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(g[0][0][1][2].item<double>(), 4.0);
  EXPECT_DOUBLE_EQ(g[0][1][1][2].item<double>(), 1.0);
  // At (1, 3.75) the right neighbour is outside: d/dx = 0 - 7 = -7.
  EXPECT_DOUBLE_EQ(g[0][1][1][1].item<double>(), -7.0);
}

TEST(DeformConv, V1IsV2WithUnitMaskBitForBit) {
  // mmcv's DeformConv2d computes exactly the modulated op with mask = 1 (x * 1
  // is exact), and so does this implementation.
  at::manual_seed(9);
  DeformConvOptions o;
  o.padding = {1, 1};
  o.groups = 2;
  o.deform_groups = 2;
  auto x = at::randn({2, 8, 9, 10});
  auto off = (at::randn({2, 36, 9, 10}) * 3);
  auto w = at::randn({6, 4, 3, 3});
  auto ones = at::ones({2, 18, 9, 10});
  auto gout = at::randn({2, 6, 9, 10});
  std::vector<at::Tensor> grads[2];
  at::Tensor ys[2];
  for (int v = 0; v < 2; ++v) {
    auto xi = x.clone().requires_grad_(true), oi = off.clone().requires_grad_(true),
         wi = w.clone().requires_grad_(true);
    ys[v] = v == 0 ? deform_conv2d(xi, oi, wi, o)
                   : modulated_deform_conv2d(xi, oi, ones, wi, at::Tensor(), o);
    ys[v].backward(gout);
    grads[v] = {xi.grad(), oi.grad(), wi.grad()};
  }
  EXPECT_TRUE(at::equal(ys[0], ys[1]));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(at::equal(grads[0][i], grads[1][i])) << i;
}

// CPU autocast on for the scope, as at::autocast::set_cpu_enabled(true) turns it
// on (the same call in LibTorch 1.13 and 2.x).
struct ScopedCpuAutocast {
  ScopedCpuAutocast() { c10::impl::tls_set_dispatch_key_excluded(c10::DispatchKey::AutocastCPU, false); }
  ~ScopedCpuAutocast() { c10::impl::tls_set_dispatch_key_excluded(c10::DispatchKey::AutocastCPU, true); }
};

TEST(DeformConv, ReducedPrecisionAndAutocastComputeInFloat32) {
  at::manual_seed(4);
  DeformConvOptions o;
  o.padding = {1, 1};
  auto x = at::randn({1, 4, 6, 6}), off = at::randn({1, 18, 6, 6}), m = at::rand({1, 9, 6, 6});
  auto w = at::randn({3, 4, 3, 3}), b = at::randn({3});
  // bf16 activations (CPU autocast's conv output) are computed in float32.
  auto xb = x.to(at::kBFloat16), offb = off.to(at::kBFloat16);
  auto y = modulated_deform_conv2d(xb, offb, m, w, b, o);
  EXPECT_EQ(y.scalar_type(), at::kFloat);
  auto ref = modulated_deform_conv2d(xb.to(at::kFloat), offb.to(at::kFloat), m, w, b, o);
  EXPECT_TRUE(at::equal(y, ref));
  auto xg = xb.clone().requires_grad_(true);
  modulated_deform_conv2d(xg, offb, m, w, b, o).sum().backward();
  EXPECT_EQ(xg.grad().scalar_type(), at::kBFloat16);
  // Under CPU autocast a plain matmul runs in bf16, but the op's GEMMs stay in
  // float32.
  at::Tensor y_ac, mm_ac;
  {
    ScopedCpuAutocast autocast;
    mm_ac = at::mm(w.view({3, -1}), w.view({3, -1}).t());
    y_ac = modulated_deform_conv2d(x, off, m, w, b, o);
  }
  EXPECT_EQ(mm_ac.scalar_type(), at::kBFloat16) << "the guard does not enable autocast";
  EXPECT_TRUE(at::equal(y_ac, modulated_deform_conv2d(x, off, m, w, b, o)));
}

TEST(DeformConv, RequestedGradientsOnlyAndEmptyBatch) {
  at::manual_seed(2);
  DeformConvOptions o;
  o.padding = {1, 1};
  Case c = random_case(2, 4, 5, 5, 3, 3, o, 1.0, true, true);
  auto gout = at::randn({2, 3, 5, 5}, at::kDouble);
  auto all = deform_conv2d_backward(gout, c.input, c.offset, c.mask, c.weight, true, o);
  DeformConvGradMask only_w;
  only_w.input = only_w.offset_mask = only_w.bias = false;
  auto w = deform_conv2d_backward(gout, c.input, c.offset, c.mask, c.weight, true, o, only_w);
  EXPECT_FALSE(w.input.defined());
  EXPECT_FALSE(w.offset.defined());
  EXPECT_FALSE(w.mask.defined());
  EXPECT_FALSE(w.bias.defined());
  EXPECT_TRUE(at::equal(w.weight, all.weight));
  // Frozen weights: the Function asks for input gradients only.
  auto x = c.input.clone().requires_grad_(true);
  modulated_deform_conv2d(x, c.offset, c.mask, c.weight, c.bias, o).backward(gout);
  EXPECT_TRUE(at::equal(x.grad(), all.input));

  auto empty = modulated_deform_conv2d(at::zeros({0, 4, 5, 5}, at::kDouble),
                                       at::zeros({0, 18, 5, 5}, at::kDouble),
                                       at::zeros({0, 9, 5, 5}, at::kDouble), c.weight, c.bias, o);
  EXPECT_EQ(empty.sizes(), (std::vector<int64_t>{0, 3, 5, 5}));
}

TEST(DeformConv, RejectsBadInputs) {
  DeformConvOptions o;
  o.padding = {1, 1};
  auto x = at::randn({1, 4, 5, 5}), w = at::randn({3, 4, 3, 3});
  auto off = at::zeros({1, 18, 5, 5}), m = at::ones({1, 9, 5, 5});
  EXPECT_NO_THROW(modulated_deform_conv2d(x, off, m, w, at::Tensor(), o));
  // Offset with the wrong channel count or size, mask of the wrong shape.
  EXPECT_THROW(modulated_deform_conv2d(x, at::zeros({1, 9, 5, 5}), m, w, at::Tensor(), o),
               c10::Error);
  EXPECT_THROW(modulated_deform_conv2d(x, at::zeros({1, 18, 4, 5}), m, w, at::Tensor(), o),
               c10::Error);
  EXPECT_THROW(modulated_deform_conv2d(x, off, at::ones({1, 18, 5, 5}), w, at::Tensor(), o),
               c10::Error);
  // Mixed float32 / float64, bias of the wrong size.
  EXPECT_THROW(modulated_deform_conv2d(x, off.to(at::kDouble), m, w, at::Tensor(), o), c10::Error);
  EXPECT_THROW(modulated_deform_conv2d(x, off, m, w, at::zeros({4}), o), c10::Error);
  // Groups that do not divide the channels; deform groups that do not.
  DeformConvOptions g = o;
  g.groups = 3;
  EXPECT_THROW(modulated_deform_conv2d(x, off, m, w, at::Tensor(), g), c10::Error);
  DeformConvOptions dg = o;
  dg.deform_groups = 3;
  EXPECT_THROW(deform_conv2d(x, at::zeros({1, 54, 5, 5}), w, dg), c10::Error);
  // Input smaller than the kernel (no padding) and a missing mask for DCNv2.
  EXPECT_THROW(deform_conv2d(at::randn({1, 4, 2, 2}), at::zeros({1, 18, 1, 1}), w, {}),
               c10::Error);
  EXPECT_THROW(modulated_deform_conv2d(x, off, at::Tensor(), w, at::Tensor(), o), c10::Error);
}

}  // namespace
}  // namespace instseg
