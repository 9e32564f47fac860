#include "instseg/layers/folded_conv_bn.h"

#include "instseg/core/compat.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>


namespace instseg {

FoldedConvBn::Source FoldedConvBn::source_of(const at::Tensor& t) {
  if (!t.defined()) return {};
  return {t.unsafeGetTensorImpl(), t.data_ptr(), t._version()};
}

std::array<FoldedConvBn::Source, 6> FoldedConvBn::sources_of(const torch::nn::Conv2dImpl& conv,
                                                             const torch::nn::BatchNorm2dImpl& bn) {
  return {source_of(conv.weight), source_of(conv.options.bias() ? conv.bias : at::Tensor()),
          source_of(bn.weight),   source_of(bn.bias),
          source_of(bn.running_mean), source_of(bn.running_var)};
}

void FoldedConvBn::fold(const torch::nn::Conv2dImpl& conv, const torch::nn::BatchNorm2dImpl& bn) {
  clear();
  if (!bn.options.track_running_stats() || !bn.running_mean.defined() || !bn.running_var.defined()) return;
  const std::optional<std::array<int64_t, 2>> padding = conv2d_explicit_padding(conv);
  if (!padding) return;
  torch::NoGradGuard no_grad;
  const at::Tensor w = conv.weight.detach();
  const int64_t out = w.size(0);
  const at::TensorOptions f64 = w.options().dtype(at::kDouble);
  const at::Tensor mean = bn.running_mean.detach().to(at::kDouble);
  const at::Tensor var = bn.running_var.detach().to(at::kDouble);
  const at::Tensor gamma = bn.options.affine() ? bn.weight.detach().to(at::kDouble) : at::ones({out}, f64);
  const at::Tensor beta = bn.options.affine() ? bn.bias.detach().to(at::kDouble) : at::zeros({out}, f64);
  const at::Tensor b = conv.options.bias() ? conv.bias.detach().to(at::kDouble) : at::zeros({out}, f64);
  const at::Tensor s = gamma / (var + bn.options.eps()).sqrt();
  weight_ = (w.to(at::kDouble) * s.view({out, 1, 1, 1})).to(w.scalar_type()).contiguous(w.suggest_memory_format());
  bias_ = ((b - mean) * s + beta).to(w.scalar_type());
  sources_ = sources_of(conv, bn);
  running_mean_ = bn.running_mean.detach().clone();
  running_var_ = bn.running_var.detach().clone();
  stride_ = {(*conv.options.stride())[0], (*conv.options.stride())[1]};
  dilation_ = {(*conv.options.dilation())[0], (*conv.options.dilation())[1]};
  padding_ = *padding;
  groups_ = conv.options.groups();
}

at::Tensor FoldedConvBn::forward(const at::Tensor& x) const {
  return instseg::conv2d(x, weight_, bias_, stride_, padding_, dilation_, groups_);
}

void FoldedConvBn::clear() {
  weight_ = at::Tensor();
  bias_ = at::Tensor();
  running_mean_ = at::Tensor();
  running_var_ = at::Tensor();
  sources_ = {};
}

bool FoldedConvBn::current(const torch::nn::Conv2dImpl& conv, const torch::nn::BatchNorm2dImpl& bn) const {
  return weight_.defined() && sources_ == sources_of(conv, bn) && at::equal(running_mean_, bn.running_mean) &&
         at::equal(running_var_, bn.running_var);
}

at::Tensor conv_bn(torch::nn::Conv2d conv, torch::nn::BatchNorm2d bn, const FoldedConvBn& fold, const at::Tensor& x) {
  if (bn->is_training() || !fold.current(*conv, *bn)) return bn->forward(conv->forward(x));
  return fold.forward(x);
}

}  // namespace instseg
