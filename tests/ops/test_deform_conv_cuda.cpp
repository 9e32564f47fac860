// CUDA deformable convolution against the CPU kernel (label `cuda`; skipped
// without a CUDA build and device).
#include "common/test_util.h"
#include "instseg/ops/deform_conv.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>
#include <torch/cuda.h>

#include <string>
#include <vector>

namespace instseg {
namespace {

struct Problem {
  int64_t b, c, h, w, cout, k;
  DeformConvOptions opt;
  double spread;  // offset scale; 0 = integer offsets in [-3, 3]
  bool modulated, bias;
};

// {output, grad_input, grad_offset, grad_mask, grad_weight, grad_bias} on `device`.
std::vector<at::Tensor> run_deform_conv(const std::vector<at::Tensor>& t, const at::Tensor& gout,
                                         const DeformConvOptions& o, at::Device device) {
  std::vector<at::Tensor> v;
  for (const auto& x : t) v.push_back(x.defined() ? x.to(device).requires_grad_(true) : x);
  at::Tensor y = v[2].defined() ? modulated_deform_conv2d(v[0], v[1], v[2], v[3], v[4], o)
                                : deform_conv2d(v[0], v[1], v[3], o);
  y.backward(gout.to(device));
  std::vector<at::Tensor> r{y.detach().cpu()};
  for (const auto& x : v) r.push_back(x.defined() ? x.grad().cpu() : at::Tensor());
  return r;
}

TEST(DeformConvCuda, MatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(17);
  auto opts = [](std::array<int64_t, 2> s, std::array<int64_t, 2> p, std::array<int64_t, 2> d,
                 int64_t g, int64_t dg) {
    DeformConvOptions o;
    o.stride = s;
    o.padding = p;
    o.dilation = d;
    o.groups = g;
    o.deform_groups = dg;
    return o;
  };
  const std::vector<Problem> problems{
      {2, 8, 11, 13, 6, 3, opts({1, 1}, {1, 1}, {1, 1}, 2, 4), 2.0, true, true},
      {1, 6, 12, 9, 4, 3, opts({2, 2}, {2, 1}, {2, 1}, 1, 3), 6.0, true, false},
      {2, 4, 7, 8, 4, 3, opts({1, 1}, {1, 1}, {1, 1}, 2, 2), 0.0, true, true},
      {2, 4, 7, 8, 6, 3, opts({1, 1}, {1, 1}, {1, 1}, 2, 2), 2.0, false, false},
      // 64 x 9 x 180^2 column entries: more than one chunk of the CUDA buffer.
      {1, 64, 180, 180, 8, 3, opts({1, 1}, {1, 1}, {1, 1}, 1, 1), 3.0, true, true},
  };
  for (size_t i = 0; i < problems.size(); ++i) {
    SCOPED_TRACE("problem " + std::to_string(i));
    const Problem& p = problems[i];
    const auto& o = p.opt;
    const int64_t ho = (p.h + 2 * o.padding[0] - (o.dilation[0] * (p.k - 1) + 1)) / o.stride[0] + 1;
    const int64_t wo = (p.w + 2 * o.padding[1] - (o.dilation[1] * (p.k - 1) + 1)) / o.stride[1] + 1;
    const bool big = p.c * p.h > 1000;
    const auto dtype = big ? at::kFloat : at::kDouble;
    auto ft = at::TensorOptions().dtype(dtype);
    std::vector<at::Tensor> t(5);
    t[0] = at::randn({p.b, p.c, p.h, p.w}, ft);
    const std::vector<int64_t> off_shape{p.b, 2 * o.deform_groups * p.k * p.k, ho, wo};
    t[1] = p.spread > 0 ? at::randn(off_shape, ft) * p.spread
                        : at::randint(-3, 4, off_shape, ft);
    if (p.modulated) t[2] = at::rand({p.b, o.deform_groups * p.k * p.k, ho, wo}, ft);
    t[3] = at::randn({p.cout, p.c / o.groups, p.k, p.k}, ft);
    if (p.bias) t[4] = at::randn({p.cout}, ft);
    auto gout = at::randn({p.b, p.cout, ho, wo}, ft);
    auto cpu = run_deform_conv(t, gout, o, at::kCPU);
    auto gpu = run_deform_conv(t, gout, o, at::Device(at::kCUDA));
    const double tol = big ? 2e-3 : 1e-10;
    const char* names[] = {"output", "input", "offset", "mask", "weight", "bias"};
    for (int j = 0; j < 6; ++j) {
      if (!cpu[j].defined()) continue;
      EXPECT_LT(test::max_abs_diff(gpu[j], cpu[j]), tol * std::max(1.0, cpu[j].abs().max().item<double>()))
          << names[j];
    }
  }
}

}  // namespace
}  // namespace instseg
