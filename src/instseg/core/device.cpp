#include "instseg/core/device.h"

#include "instseg/core/check.h"

#include <torch/cuda.h>

namespace instseg {

c10::Device parse_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  c10::Device d(c10::kCPU);
  try {
    d = c10::Device(name);
  } catch (const std::exception&) {
    fail("device '", name, "' is not a device (auto, cpu, cuda, cuda:N)");
  }
  if (!d.is_cpu() && !d.is_cuda()) fail("device '", name, "': only cpu and cuda are supported");
  if (d.is_cuda() && !torch::cuda::is_available()) fail("device ", name, ": CUDA is not available");
  return d;
}

}  // namespace instseg
