// Device names as users type them (mmdetection's --device, torch.device).
#pragma once
#include <c10/core/Device.h>

#include <string>

namespace instseg {

// "auto" (cuda:0 when CUDA is available, else cpu), "cpu", "cuda", "cuda:N".
// Throws instseg::Error for anything else, and for CUDA when it is not
// available (this LibTorch has no CUDA, or there is no GPU).
c10::Device parse_device(const std::string& name);

}  // namespace instseg
