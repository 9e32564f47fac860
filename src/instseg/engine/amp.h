// Mixed precision: autocast scopes and an fp16 gradient scaler
// (torch.autocast + torch.cuda.amp.GradScaler semantics). The LibTorch
// 1.13 vs 2.x autocast API difference is confined to amp.cpp.
//
//   GradScaler scaler(amp == AmpDtype::fp16);
//   { AutocastGuard ac(device.type(), amp); losses = model->forward_train(b); }
//   scaler.scale(loss).backward();
//   bool inf = scaler.unscale(params);      // before clipping
//   if (!inf) optimizer.step();
//   scaler.update(inf);
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/DeviceType.h>

#include <string>
#include <vector>

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

// Dynamic loss scaling for fp16 (PyTorch GradScaler defaults).
class GradScaler {
 public:
  explicit GradScaler(bool enabled, double init_scale = 65536.0, double growth_factor = 2.0,
                      double backoff_factor = 0.5, int64_t growth_interval = 2000);
  bool enabled() const { return enabled_; }
  // loss * scale (the loss itself when disabled).
  at::Tensor scale(const at::Tensor& loss) const;
  // Divides the gradients by the scale in place; returns true when any
  // gradient holds inf/NaN (the step must then be skipped). No-op (false)
  // when disabled.
  bool unscale(const std::vector<at::Tensor>& params);
  // Backs off on overflow, grows after growth_interval clean steps.
  void update(bool found_inf);
  double get_scale() const { return scale_; }
  int64_t growth_tracker() const { return growth_tracker_; }
  void set_state(double scale, int64_t growth_tracker) {
    scale_ = scale;
    growth_tracker_ = growth_tracker;
  }

 private:
  bool enabled_;
  double scale_, growth_factor_, backoff_factor_;
  int64_t growth_interval_, growth_tracker_ = 0;
};

}  // namespace instseg
