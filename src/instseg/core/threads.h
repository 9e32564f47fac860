// Thread-count policy. Debian's LibTorch defaults to 1 intra-op thread here
// (OpenMP sees one physical core), so instseg sets it itself:
//   1. --threads N (requested > 0) wins; 0 means "auto" (the rules below);
//   2. else OMP_NUM_THREADS when it is a positive integer (torchrun sets it to
//      1 per worker unless the user set it; `instseg launch` sets it to
//      CPUs / processes; PyTorch users expect it to be honoured);
//   3. else all available CPUs divided by LOCAL_WORLD_SIZE when that is a
//      positive integer (several workers on this node share the cores);
//   4. else all available CPUs.
#pragma once
#include <string>

namespace instseg {

// Logical CPUs usable by this process (sched_getaffinity; at least 1).
int available_cpus();

struct ThreadChoice {
  int threads = 1;      // >= 1
  std::string source;   // what decided, for the log: "--threads", "OMP_NUM_THREADS", ...
  int capped_from = 0;  // > 0: the requested count, cut to thread_limit()
};

// The most threads instseg uses: max(64, 4 x cpus). More only thrash (and
// OpenMP takes minutes to start 100000 threads); --threads and
// OMP_NUM_THREADS above it are cut to it with a warning.
int thread_limit(int cpus);

// The policy above as a pure function (requests are capped at thread_limit(cpus)). omp_num_threads / local_world_size are
// the variables' values (nullptr when unset); values that are not positive
// integers are ignored (and said so in `source`). cpus >= 1.
ThreadChoice choose_threads(int requested, const char* omp_num_threads, const char* local_world_size,
                            int cpus);

// choose_threads(requested, $OMP_NUM_THREADS, $LOCAL_WORLD_SIZE,
// available_cpus()), with a warning when the request was capped. LibTorch's
// pool is set by configure_threads (core/intra_op_threads.h); this file is
// LibTorch-free (instseg_util).
ThreadChoice resolve_threads(int requested);

// A positive decimal integer (no sign, no trailing text), or 0.
int parse_positive_int(const char* text);

}  // namespace instseg
