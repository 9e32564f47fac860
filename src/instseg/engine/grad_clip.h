// Gradient clipping by the global L2 norm (mmengine's clip_grad=dict(max_norm,
// norm_type=2), i.e. torch.nn.utils.clip_grad_norm_).
#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

namespace instseg {

// Global L2 norm of the defined gradients of `params`, computed in float32
// (fp16/bf16 gradients are upcast). Returns 0 when no gradient is defined.
double grad_global_norm(const std::vector<at::Tensor>& params);

// Scales every gradient by max_norm / (norm + 1e-6) when norm > max_norm, as
// torch.nn.utils.clip_grad_norm_ does, and returns the norm before clipping.
// A non-finite norm is returned unchanged and the gradients are left alone
// (the fp16 grad scaler then skips the step).
double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

}  // namespace instseg
