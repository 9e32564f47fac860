#include "instseg/engine/amp.h"

#include "instseg/core/check.h"
#include "instseg/core/compat.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>

#include <map>
#include <string>
#include <utility>

namespace instseg {

// The one place that knows the autocast API of each LibTorch version:
// 1.13 has per-backend setters (set_enabled / set_cpu_enabled,
// set_autocast_gpu_dtype / set_autocast_cpu_dtype); 2.4+ has device-typed
// set_autocast_enabled(device, on) / set_autocast_dtype(device, dtype).
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define INSTSEG_AUTOCAST_DEVICE_API 1
#else
#define INSTSEG_AUTOCAST_DEVICE_API 0
#endif

namespace {

bool get_enabled(c10::DeviceType d) {
#if INSTSEG_AUTOCAST_DEVICE_API
  return at::autocast::is_autocast_enabled(d);
#else
  return d == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

void set_enabled(c10::DeviceType d, bool on) {
#if INSTSEG_AUTOCAST_DEVICE_API
  at::autocast::set_autocast_enabled(d, on);
#else
  if (d == c10::DeviceType::CUDA)
    at::autocast::set_enabled(on);
  else
    at::autocast::set_cpu_enabled(on);
#endif
}

c10::ScalarType get_dtype(c10::DeviceType d) {
#if INSTSEG_AUTOCAST_DEVICE_API
  return at::autocast::get_autocast_dtype(d);
#else
  return d == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype()
                                    : at::autocast::get_autocast_cpu_dtype();
#endif
}

void set_dtype(c10::DeviceType d, c10::ScalarType t) {
#if INSTSEG_AUTOCAST_DEVICE_API
  at::autocast::set_autocast_dtype(d, t);
#else
  if (d == c10::DeviceType::CUDA)
    at::autocast::set_autocast_gpu_dtype(t);
  else
    at::autocast::set_autocast_cpu_dtype(t);
#endif
}

}  // namespace

AmpDtype parse_amp_dtype(const std::string& s) {
  if (s.empty() || s == "none" || s == "fp32" || s == "float32") return AmpDtype::none;
  if (s == "fp16" || s == "float16" || s == "half") return AmpDtype::fp16;
  if (s == "bf16" || s == "bfloat16") return AmpDtype::bf16;
  fail("amp: unknown dtype '", s, "' (none, fp16 or bf16)");
}

std::string to_string(AmpDtype d) {
  switch (d) {
    case AmpDtype::none: return "none";
    case AmpDtype::fp16: return "fp16";
    case AmpDtype::bf16: return "bf16";
  }
  return "?";
}

bool autocast_enabled(c10::DeviceType device) { return get_enabled(device); }

AutocastGuard::AutocastGuard(c10::DeviceType device, AmpDtype dtype) : device_(device) {
  if (dtype == AmpDtype::none) return;
  INSTSEG_CHECK(device == c10::DeviceType::CUDA || device == c10::DeviceType::CPU,
                "autocast: only CUDA and CPU are supported");
  if (device == c10::DeviceType::CPU && dtype == AmpDtype::fp16)
    fail("amp: CPU autocast supports bf16 only");
  prev_enabled_ = get_enabled(device);
  prev_dtype_ = get_dtype(device);
  set_enabled(device, true);
  set_dtype(device, dtype == AmpDtype::fp16 ? at::kHalf : at::kBFloat16);
  at::autocast::increment_nesting();
  active_ = true;
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  // The cast cache holds the low-precision copies of weights for the scope.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_enabled(device_, prev_enabled_);
  set_dtype(device_, prev_dtype_);
}

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
