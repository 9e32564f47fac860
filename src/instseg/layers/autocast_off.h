#pragma once
// AutocastOff: the enclosed ops run without autocast, on the CPU and CUDA
// alike, as inside Python's `with torch.autocast(device, enabled=False)`.
//
// For the parts of a model that must stay in fp32 under mixed precision
// (SOLOv2's post-processing: thresholds, mask IoUs as matmuls of [K, H*W]
// binary masks whose counts bf16 cannot hold, upsampling that is slower in
// bf16 than in fp32 on the CPU). Autocast is a dispatch key, so excluding its
// keys for a scope is exactly "disabled" for every op called inside, whatever
// the LibTorch version (engine/amp.h's AutocastGuard turns it on; models do
// not depend on the engine). Inputs must already be fp32: nothing casts them.
#include <c10/core/DispatchKeySet.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

namespace instseg {

class AutocastOff {
 public:
  AutocastOff()
      : guard_(c10::DispatchKeySet(c10::DispatchKey::AutocastCPU) |
               c10::DispatchKeySet(c10::DispatchKey::AutocastCUDA)) {}
  AutocastOff(const AutocastOff&) = delete;
  AutocastOff& operator=(const AutocastOff&) = delete;

 private:
  c10::impl::ExcludeDispatchKeyGuard guard_;
};

}  // namespace instseg
