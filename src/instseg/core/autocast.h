// Autocast scopes (torch.autocast semantics) for CPU bf16 and CUDA fp16/bf16,
// in core so that inference (PredictorOptions::dtype) and training
// (engine/amp.h) share them. The LibTorch 1.13 vs 2.x autocast API difference
// is confined to autocast.cpp.
//
//   { AutocastGuard ac(c10::DeviceType::CPU, AmpDtype::bf16); dets = model->predict(batch); }
#pragma once
#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace instseg {

enum class AmpDtype { none, fp16, bf16 };

// "none"/"fp32", "fp16"/"float16", "bf16"/"bfloat16".
AmpDtype parse_amp_dtype(const std::string& s);
std::string to_string(AmpDtype d);

// Enables autocast for `device` (CUDA or CPU) with the given dtype in this
// thread for the guard's lifetime; restores the previous state after. A
// none dtype does nothing. CPU autocast supports bf16 only (as in PyTorch).
class AutocastGuard {
 public:
  AutocastGuard(c10::DeviceType device, AmpDtype dtype);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType device_;
  bool prev_enabled_ = false;
  c10::ScalarType prev_dtype_ = c10::ScalarType::Undefined;
};

// Whether autocast is currently on for `device` in this thread (for tests).
bool autocast_enabled(c10::DeviceType device);

}  // namespace instseg
