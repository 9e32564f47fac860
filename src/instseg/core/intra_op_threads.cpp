#include "instseg/core/intra_op_threads.h"

#include "instseg/core/log.h"
#include "instseg/core/threads.h"

#include <ATen/Parallel.h>

namespace instseg {

int configure_threads(int requested) {
  const ThreadChoice c = resolve_threads(requested);
  const int before = at::get_num_threads();
  at::set_num_threads(c.threads);
  log_info("threads: LibTorch intra-op threads ", at::get_num_threads(), " (set from ", c.source, "; ",
           available_cpus(), " CPUs available, LibTorch default was ", before, "; override with --threads)");
  return at::get_num_threads();
}

}  // namespace instseg
