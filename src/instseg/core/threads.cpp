#include "instseg/core/threads.h"

#include "instseg/core/log.h"

#include <ATen/Parallel.h>
#include <sched.h>

#include <thread>

namespace instseg {

int available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

int configure_threads(int requested) {
  int n = requested > 0 ? requested : available_cpus();
  int before = at::get_num_threads();
  at::set_num_threads(n);
  log_info("threads: LibTorch intra-op threads ", at::get_num_threads(), " (", available_cpus(),
           " CPUs available, LibTorch default was ", before,
           requested > 0 ? ", set by --threads)" : ", set from the machine; override with --threads)");
  return at::get_num_threads();
}

}  // namespace instseg
