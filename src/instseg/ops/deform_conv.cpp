// Deformable convolution: entry checks, the device switch, reduced precision
// and the autograd Function.
#include "instseg/ops/deform_conv.h"

#include "instseg/core/check.h"
#include "instseg/ops/deform_conv_sampling.h"

#include <ATen/ATen.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/autograd.h>

#include <limits>

namespace instseg {

namespace {

int64_t out_size(int64_t in, int64_t pad, int64_t dilation, int64_t kernel, int64_t stride) {
  return (in + 2 * pad - (dilation * (kernel - 1) + 1)) / stride + 1;
}

void check_options(const DeformConvOptions& o) {
  for (int i = 0; i < 2; ++i) {
    INSTSEG_CHECK(o.stride[i] > 0 && o.dilation[i] > 0 && o.padding[i] >= 0,
                  "deform_conv2d: stride and dilation must be > 0 and padding >= 0, got stride (",
                  o.stride[0], ",", o.stride[1], ") padding (", o.padding[0], ",", o.padding[1],
                  ") dilation (", o.dilation[0], ",", o.dilation[1], ")");
  }
  INSTSEG_CHECK(o.groups > 0 && o.deform_groups > 0,
                "deform_conv2d: groups and deform_groups must be > 0, got ", o.groups, " and ",
                o.deform_groups);
}

// Shapes, dtypes and devices of the op's tensors (mask / bias may be undefined).
void check_inputs(const at::Tensor& input, const at::Tensor& offset, const at::Tensor& mask,
                  const at::Tensor& weight, const at::Tensor& bias, const DeformConvOptions& o) {
  check_options(o);
  INSTSEG_CHECK(input.dim() == 4, "deform_conv2d: input must be [B,C,H,W], got ", input.sizes());
  INSTSEG_CHECK(weight.dim() == 4, "deform_conv2d: weight must be [Cout,C/groups,kh,kw], got ",
                weight.sizes());
  INSTSEG_CHECK(offset.dim() == 4, "deform_conv2d: offset must be [B,2*dg*kh*kw,Ho,Wo], got ",
                offset.sizes());
  const int64_t b = input.size(0), c = input.size(1), h = input.size(2), w = input.size(3);
  const int64_t cout = weight.size(0), kh = weight.size(2), kw = weight.size(3);
  INSTSEG_CHECK(c > 0 && h > 0 && w > 0 && cout > 0 && kh > 0 && kw > 0,
                "deform_conv2d: empty input ", input.sizes(), " or weight ", weight.sizes());
  INSTSEG_CHECK(c % o.groups == 0 && cout % o.groups == 0 && weight.size(1) * o.groups == c,
                "deform_conv2d: weight ", weight.sizes(), " does not fit ", c,
                " input channels in ", o.groups, " groups");
  INSTSEG_CHECK(c % o.deform_groups == 0, "deform_conv2d: ", c,
                " input channels are not divisible by deform_groups ", o.deform_groups);
  const int64_t ho = out_size(h, o.padding[0], o.dilation[0], kh, o.stride[0]);
  const int64_t wo = out_size(w, o.padding[1], o.dilation[1], kw, o.stride[1]);
  INSTSEG_CHECK(ho > 0 && wo > 0, "deform_conv2d: input ", h, "x", w,
                " is too small for the kernel (output would be ", ho, "x", wo, ")");
  const int64_t taps = o.deform_groups * kh * kw;
  INSTSEG_CHECK(offset.size(0) == b && offset.size(1) == 2 * taps && offset.size(2) == ho &&
                    offset.size(3) == wo,
                "deform_conv2d: offset must be [", b, ",", 2 * taps, ",", ho, ",", wo,
                "] (2*deform_groups*kh*kw channels), got ", offset.sizes());
  if (mask.defined()) {
    INSTSEG_CHECK(mask.dim() == 4 && mask.size(0) == b && mask.size(1) == taps &&
                      mask.size(2) == ho && mask.size(3) == wo,
                  "deform_conv2d: mask must be [", b, ",", taps, ",", ho, ",", wo,
                  "] (deform_groups*kh*kw channels), got ", mask.sizes());
  }
  if (bias.defined()) {
    INSTSEG_CHECK(bias.dim() == 1 && bias.size(0) == cout, "deform_conv2d: bias must be [",
                  cout, "], got ", bias.sizes());
  }
  // The CPU kernel indexes a zero-padded (H+3) x (W+2) plane with int32.
  INSTSEG_CHECK((h + 3) * (w + 2) < std::numeric_limits<int32_t>::max(),
                "deform_conv2d: input plane ", h, "x", w, " is too large");
  const auto dtype = input.scalar_type();
  INSTSEG_CHECK(dtype == at::kFloat || dtype == at::kDouble,
                "deform_conv2d: float32/float64 only, got ", dtype);
  for (const at::Tensor* t : {&offset, &mask, &weight, &bias}) {
    if (!t->defined()) continue;
    INSTSEG_CHECK(t->scalar_type() == dtype, "deform_conv2d: input is ", dtype, " but a ",
                  t->sizes(), " argument is ", t->scalar_type());
    INSTSEG_CHECK(t->device() == input.device(), "deform_conv2d: input on ", input.device(),
                  " but a ", t->sizes(), " argument on ", t->device());
  }
}

at::Tensor contiguous_or_undefined(const at::Tensor& t) {
  return t.defined() ? t.contiguous() : t;
}

std::vector<int64_t> pack(const DeformConvOptions& o) {
  return {o.stride[0],   o.stride[1],   o.padding[0], o.padding[1],
          o.dilation[0], o.dilation[1], o.groups,     o.deform_groups};
}

DeformConvOptions unpack(const std::vector<int64_t>& v) {
  DeformConvOptions o;
  o.stride = {v[0], v[1]};
  o.padding = {v[2], v[3]};
  o.dilation = {v[4], v[5]};
  o.groups = v[6];
  o.deform_groups = v[7];
  return o;
}

using torch::autograd::AutogradContext;
using torch::autograd::Variable;
using torch::autograd::variable_list;

// mask and bias are optionals: LibTorch's Function cannot take an undefined
// tensor as an input, and an absent optional is not an input edge, so the edge
// index of weight and bias depends on which ones are present.
class DeformConv2dFunction : public torch::autograd::Function<DeformConv2dFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const Variable& input, const Variable& offset,
                               const c10::optional<at::Tensor>& mask, const Variable& weight,
                               const c10::optional<at::Tensor>& bias,
                               const DeformConvOptions& opt) {
    const at::Tensor m = mask.has_value() ? *mask : at::Tensor();
    const at::Tensor b = bias.has_value() ? *bias : at::Tensor();
    ctx->saved_data["opt"] = pack(opt);
    ctx->saved_data["has_mask"] = m.defined();
    ctx->saved_data["has_bias"] = b.defined();
    ctx->save_for_backward(m.defined() ? variable_list{input, offset, weight, m}
                                       : variable_list{input, offset, weight});
    at::AutoDispatchBelowADInplaceOrView guard;
    return {deform_conv2d_forward(input, offset, m, weight, b, opt)};
  }

  static variable_list backward(AutogradContext* ctx, const variable_list& grads) {
    auto saved = ctx->get_saved_variables();
    const auto opt = unpack(ctx->saved_data["opt"].toIntVector());
    const bool has_mask = ctx->saved_data["has_mask"].toBool();
    const bool has_bias = ctx->saved_data["has_bias"].toBool();
    // Input edges: input, offset, [mask], weight, [bias].
    const size_t weight_edge = has_mask ? 3 : 2;
    DeformConvGradMask need;
    need.input = ctx->needs_input_grad(0);
    need.offset_mask = ctx->needs_input_grad(1) || (has_mask && ctx->needs_input_grad(2));
    need.weight = ctx->needs_input_grad(weight_edge);
    need.bias = has_bias && ctx->needs_input_grad(weight_edge + 1);
    const at::Tensor mask = has_mask ? saved[3] : at::Tensor();
    auto g = deform_conv2d_backward(grads[0], saved[0], saved[1], mask, saved[2], has_bias, opt,
                                    need);
    return {g.input, g.offset, g.mask, g.weight, g.bias, Variable()};
  }
};

c10::optional<at::Tensor> optional_of(const at::Tensor& t) {
  return t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt;
}

}  // namespace

namespace detail {

DeformGeom deform_geom(const at::Tensor& input, const at::Tensor& offset,
                       const at::Tensor& weight, const DeformConvOptions& opt) {
  DeformGeom g;
  g.channels = static_cast<int>(input.size(1));
  g.height = static_cast<int>(input.size(2));
  g.width = static_cast<int>(input.size(3));
  g.kh = static_cast<int>(weight.size(2));
  g.kw = static_cast<int>(weight.size(3));
  g.taps = g.kh * g.kw;
  g.out_h = static_cast<int>(offset.size(2));
  g.out_w = static_cast<int>(offset.size(3));
  g.pixels = g.out_h * g.out_w;
  g.stride_h = static_cast<int>(opt.stride[0]);
  g.stride_w = static_cast<int>(opt.stride[1]);
  g.pad_h = static_cast<int>(opt.padding[0]);
  g.pad_w = static_cast<int>(opt.padding[1]);
  g.dil_h = static_cast<int>(opt.dilation[0]);
  g.dil_w = static_cast<int>(opt.dilation[1]);
  g.deform_groups = static_cast<int>(opt.deform_groups);
  g.channels_per_dg = g.channels / g.deform_groups;
  return g;
}

}  // namespace detail

at::Tensor deform_conv2d_forward(const at::Tensor& input, const at::Tensor& offset,
                                 const at::Tensor& mask, const at::Tensor& weight,
                                 const at::Tensor& bias, const DeformConvOptions& opt) {
  check_inputs(input, offset, mask, weight, bias, opt);
  // The kernels' GEMMs must run in the inputs' dtype, not autocast's.
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  auto in = input.contiguous(), off = offset.contiguous(), w = weight.contiguous();
  auto m = contiguous_or_undefined(mask), b = contiguous_or_undefined(bias);
  if (in.is_cuda()) {
#ifdef INSTSEG_WITH_CUDA
    return detail::deform_conv2d_forward_cuda(in, off, m, w, b, opt);
#else
    INSTSEG_CHECK(false, "deform_conv2d: instseg was built without CUDA kernels");
#endif
  }
  INSTSEG_CHECK(in.is_cpu(), "deform_conv2d: unsupported device ", in.device());
  return detail::deform_conv2d_forward_cpu(in, off, m, w, b, opt);
}

DeformConvGrads deform_conv2d_backward(const at::Tensor& grad_output, const at::Tensor& input,
                                       const at::Tensor& offset, const at::Tensor& mask,
                                       const at::Tensor& weight, bool with_bias,
                                       const DeformConvOptions& opt,
                                       const DeformConvGradMask& need) {
  check_inputs(input, offset, mask, weight, at::Tensor(), opt);
  INSTSEG_CHECK(grad_output.dim() == 4 && grad_output.size(0) == input.size(0) &&
                    grad_output.size(1) == weight.size(0) &&
                    grad_output.size(2) == offset.size(2) && grad_output.size(3) == offset.size(3),
                "deform_conv2d_backward: grad_output ", grad_output.sizes(),
                " does not match the output [", input.size(0), ",", weight.size(0), ",",
                offset.size(2), ",", offset.size(3), "]");
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  auto g = grad_output.contiguous().to(input.scalar_type());
  auto in = input.contiguous(), off = offset.contiguous(), w = weight.contiguous();
  auto m = contiguous_or_undefined(mask);
  if (g.is_cuda()) {
#ifdef INSTSEG_WITH_CUDA
    return detail::deform_conv2d_backward_cuda(g, in, off, m, w, with_bias, opt, need);
#else
    INSTSEG_CHECK(false, "deform_conv2d: instseg was built without CUDA kernels");
#endif
  }
  return detail::deform_conv2d_backward_cpu(g, in, off, m, w, with_bias, opt, need);
}

at::Tensor modulated_deform_conv2d(const at::Tensor& input, const at::Tensor& offset,
                                   const at::Tensor& mask, const at::Tensor& weight,
                                   const at::Tensor& bias, const DeformConvOptions& opt) {
  INSTSEG_CHECK(mask.defined(), "modulated_deform_conv2d: mask is required (deform_conv2d is "
                                "the op without one)");
  // Reduced precision (CPU autocast makes the offset conv's output bf16) is
  // computed in float32, like RoIAlign here: the kernels are float32/float64.
  auto reduced = [](const at::Tensor& t) {
    return t.defined() && (t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16);
  };
  if (reduced(input) || reduced(offset) || reduced(mask) || reduced(weight) || reduced(bias)) {
    auto f = [](const at::Tensor& t) { return t.defined() ? t.to(at::kFloat) : t; };
    return DeformConv2dFunction::apply(f(input), f(offset), optional_of(f(mask)), f(weight),
                                       optional_of(f(bias)), opt)[0];
  }
  return DeformConv2dFunction::apply(input, offset, optional_of(mask), weight, optional_of(bias),
                                     opt)[0];
}

at::Tensor deform_conv2d(const at::Tensor& input, const at::Tensor& offset,
                         const at::Tensor& weight, const DeformConvOptions& opt) {
  auto reduced = [](const at::Tensor& t) {
    return t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16;
  };
  const c10::optional<at::Tensor> none;
  if (reduced(input) || reduced(offset) || reduced(weight)) {
    return DeformConv2dFunction::apply(input.to(at::kFloat), offset.to(at::kFloat), none,
                                       weight.to(at::kFloat), none, opt)[0];
  }
  return DeformConv2dFunction::apply(input, offset, none, weight, none, opt)[0];
}

}  // namespace instseg
