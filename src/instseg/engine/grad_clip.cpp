#include "instseg/engine/grad_clip.h"

#include "instseg/core/check.h"

#include <ATen/ATen.h>

#include <cmath>

namespace instseg {

double grad_global_norm(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> norms;
  norms.reserve(params.size());
  for (const auto& p : params) {
    const auto& g = p.grad();
    if (!g.defined()) continue;
    norms.push_back(at::linalg_vector_norm(g.to(at::kFloat), 2));
  }
  if (norms.empty()) return 0.0;
  // Same reduction as torch: norm of the per-tensor norms.
  return at::linalg_vector_norm(at::stack(norms), 2).item<double>();
}

double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  INSTSEG_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be positive, got ", max_norm);
  const double norm = grad_global_norm(params);
  if (!std::isfinite(norm)) return norm;
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) {
    for (const auto& p : params) {
      auto g = p.grad();
      if (g.defined()) g.mul_(coef);
    }
  }
  return norm;
}

}  // namespace instseg
