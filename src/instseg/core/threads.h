// Thread-count policy. Debian's LibTorch defaults to 1 intra-op thread here
// (OpenMP sees one physical core), so instseg sets it from the machine.
#pragma once

namespace instseg {

// Logical CPUs usable by this process (sched_getaffinity; at least 1).
int available_cpus();

// Sets LibTorch's intra-op thread count: `requested` if > 0, else
// available_cpus(). Logs the choice and returns the count in effect.
int configure_threads(int requested = 0);

}  // namespace instseg
