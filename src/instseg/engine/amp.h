// Mixed precision training: the autocast scopes (core/autocast.h, shared
// with inference) and an fp16 gradient scaler (torch.cuda.amp.GradScaler
// semantics).
//
//   GradScaler scaler(amp == AmpDtype::fp16);
//   { AutocastGuard ac(device.type(), amp); losses = model->forward_train(b); }
//   scaler.scale(loss).backward();
//   bool inf = scaler.unscale(params);      // before clipping
//   if (!inf) optimizer.step();
//   scaler.update(inf);
#pragma once
#include "instseg/core/autocast.h"

#include <ATen/core/Tensor.h>
#include <c10/core/DeviceType.h>

#include <string>
#include <vector>

namespace instseg {

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
