#include "instseg/engine/amp.h"

#include "instseg/core/check.h"
#include "instseg/core/compat.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>

#include <map>
#include <string>
#include <utility>

namespace instseg {

GradScaler::GradScaler(bool enabled, double init_scale, double growth_factor,
                       double backoff_factor, int64_t growth_interval)
    : enabled_(enabled),
      scale_(init_scale),
      growth_factor_(growth_factor),
      backoff_factor_(backoff_factor),
      growth_interval_(growth_interval) {}

at::Tensor GradScaler::scale(const at::Tensor& loss) const {
  if (!enabled_) return loss;
  return loss * scale_;
}

bool GradScaler::unscale(const std::vector<at::Tensor>& params) {
  if (!enabled_) return false;
  const double inv = 1.0 / scale_;
  // CUDA gradients: one fused kernel per (device, dtype) group, as PyTorch's
  // GradScaler does (_amp_foreach_non_finite_check_and_unscale_, CUDA-only in
  // 1.13); the others (CPU) one multiply and one check per tensor. Unscaled in
  // the gradients' own dtype (float32 parameters: float32), so tiny fp16
  // activations' gradients don't flush to zero.
  std::map<std::pair<std::string, int>, std::vector<at::Tensor>> fused;
  std::vector<at::Tensor> found;  // accumulated on the gradients' devices: one sync at the end
  for (const auto& p : params) {
    auto g = p.grad();
    if (!g.defined()) continue;
    if (g.is_cuda() && !g.is_sparse()) {
      fused[{g.device().str(), static_cast<int>(g.scalar_type())}].push_back(g);
      continue;
    }
    g.mul_(inv);
    found.push_back(g.isfinite().logical_not().any());
  }
  for (auto& kv : fused) {
    const auto opts = kv.second.front().options().dtype(at::kFloat);
    at::Tensor f = at::zeros({1}, opts);
    at::_amp_foreach_non_finite_check_and_unscale_(kv.second, f, at::full({1}, inv, opts));
    found.push_back(f.gt(0).squeeze(0));
  }
  if (found.empty()) return false;
  at::Tensor any = found.front();
  for (size_t i = 1; i < found.size(); ++i) any = any.logical_or(found[i].to(any.device()));
  return any.item<bool>();
}

void GradScaler::update(bool found_inf) {
  if (!enabled_) return;
  if (found_inf) {
    scale_ *= backoff_factor_;
    growth_tracker_ = 0;
  } else if (++growth_tracker_ >= growth_interval_) {
    scale_ *= growth_factor_;
    growth_tracker_ = 0;
  }
}

}  // namespace instseg
