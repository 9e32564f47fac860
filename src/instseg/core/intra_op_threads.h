// Applies the thread-count policy (core/threads.h) to LibTorch's intra-op
// pool. Kept apart from the policy so that the LibTorch-free `instseg` (eval)
// uses the same rules without linking LibTorch.
#pragma once

namespace instseg {

// resolve_threads(requested) applied with at::set_num_threads; logs the count,
// its source and LibTorch's previous default, and returns the count in effect.
int configure_threads(int requested = 0);

}  // namespace instseg
