// The piece of the distributed state that model code needs: mmdetection's
// reduce_mean (used for loss normalisers such as QueryInst's avg_factor).
// Header-only on purpose, so that heads and losses can call reduce_mean
// without linking instseg_engine (which links them); engine/distributed.cpp
// installs the hook when a process group starts.
#pragma once
#include <ATen/ATen.h>

namespace instseg {

struct DistHooks {
  int world_size = 1;
  // In-place SUM all-reduce across ranks (on the tensor's device).
  void (*all_reduce_sum)(at::Tensor&) = nullptr;
};

// The process-wide hooks (one instance: inline function-local static).
inline DistHooks& dist_hooks() {
  static DistHooks hooks;
  return hooks;
}

// mmdetection's reduce_mean: clone, divide by the world size, all-reduce SUM.
// Single-process: `t` itself.
inline at::Tensor reduce_mean(const at::Tensor& t) {
  const DistHooks& h = dist_hooks();
  if (h.world_size <= 1 || h.all_reduce_sum == nullptr) return t;
  at::Tensor c = t.detach().clone();
  c.div_(h.world_size);
  h.all_reduce_sum(c);
  return c;
}

}  // namespace instseg
