#include "instseg/core/autocast.h"

#include "instseg/core/check.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <string>

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

}  // namespace instseg
