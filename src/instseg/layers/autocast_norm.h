#pragma once
// Normalisation layers under CPU autocast.
//
// LibTorch 1.13's CPU autocast casts convolutions and matmuls to bf16 but leaves
// layer_norm / group_norm alone, and their CPU kernels reject a bf16 input with
// fp32 affine parameters ("expected scalar type BFloat16 but found Float").
// Normalising in the parameters' dtype (fp32) is what CUDA autocast does for
// these ops anyway (they are on its fp32 list), so numerics match. Outside
// autocast the input already has the parameters' dtype and nothing changes.
#include <ATen/ATen.h>
#include <torch/nn/modules/normalization.h>

namespace instseg {

// x: any shape the norm accepts; returns the norm's output in its parameters' dtype.
template <typename NormModule>
at::Tensor norm_in_param_dtype(NormModule& norm, const at::Tensor& x) {
  const auto& w = norm->weight;
  if (!w.defined() || x.scalar_type() == w.scalar_type()) return norm->forward(x);
  return norm->forward(x.to(w.scalar_type()));
}

}  // namespace instseg
