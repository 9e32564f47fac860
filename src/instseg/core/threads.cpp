#include "instseg/core/threads.h"

#include "instseg/core/log.h"

#include <sched.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
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

int parse_positive_int(const char* text) {
  if (text == nullptr || *text == '\0') return 0;
  long long v = 0;
  for (const char* p = text; *p; ++p) {
    if (!std::isdigit(static_cast<unsigned char>(*p))) return 0;
    v = v * 10 + (*p - '0');
    if (v > (1 << 20)) return 0;  // absurd thread or process counts
  }
  return static_cast<int>(v);
}

int thread_limit(int cpus) { return std::max(64, 4 * std::max(1, cpus)); }

namespace {
ThreadChoice capped(int n, const char* source, int cpus) {
  ThreadChoice c{n, source};
  if (n > thread_limit(cpus)) {
    c.capped_from = n;
    c.threads = thread_limit(cpus);
  }
  return c;
}
}  // namespace

ThreadChoice choose_threads(int requested, const char* omp_num_threads, const char* local_world_size,
                            int cpus) {
  cpus = std::max(1, cpus);
  if (requested > 0) return capped(requested, "--threads", cpus);
  std::string ignored;
  if (omp_num_threads != nullptr) {
    if (int n = parse_positive_int(omp_num_threads); n > 0) return capped(n, "OMP_NUM_THREADS", cpus);
    // OpenMP also accepts lists such as "4,2"; we do not guess.
    ignored = std::string("; OMP_NUM_THREADS='") + omp_num_threads + "' ignored, not a positive integer";
  }
  if (int lws = parse_positive_int(local_world_size); lws > 0)
    return {std::max(1, cpus / lws),
            "available CPUs / LOCAL_WORLD_SIZE=" + std::to_string(lws) + ignored};
  return {cpus, "available CPUs" + ignored};
}

ThreadChoice resolve_threads(int requested) {
  const int cpus = available_cpus();
  const ThreadChoice c =
      choose_threads(requested, std::getenv("OMP_NUM_THREADS"), std::getenv("LOCAL_WORLD_SIZE"), cpus);
  if (c.capped_from > 0)
    log_warning("threads: ", c.source, " asks for ", c.capped_from, " threads; using ", c.threads,
                " (at most max(64, 4 x the ", cpus, " available CPUs))");
  return c;
}

}  // namespace instseg
