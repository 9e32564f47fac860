// A torchrun-like local launcher: starts N copies of a program with RANK,
// LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR and
// MASTER_PORT set, waits for them, and if one fails stops the others (SIGTERM,
// then SIGKILL after a grace period), like torchrun's elastic agent without
// restarts. Multi-node: run it on every node with the same nnodes, master
// address and port and a distinct node_rank (see docs).
// Unlike torchrun the launcher hosts no store: rank 0 does (engine/distributed.h),
// so any inherited TORCHELASTIC_USE_AGENT_STORE is removed from the children.
#pragma once
// self_executable(): what `instseg launch` (cmd_launch.cpp) runs N copies of.
#include "instseg/core/self_exec.h"

#include <string>
#include <vector>

namespace instseg {

struct LaunchOptions {
  int nproc_per_node = 1;
  int nnodes = 1;
  int node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;   // 0: pick a free local port (single node only)
  std::vector<std::string> argv;  // program and arguments (argv[0] is exec'ed as a path)
  double timeout_s = 0;      // > 0: stop everything after this long and return 124
  double grace_s = 5;        // SIGTERM -> SIGKILL delay when stopping the others
  int omp_num_threads = 0;   // > 0: OMP_NUM_THREADS of every process; 0: inherited as is
};

// OMP_NUM_THREADS for each of nproc_per_node processes (see core/threads.h):
// `threads` (the global --threads) when > 0; else 0 (keep it) when the
// inherited OMP_NUM_THREADS is set; else max(1, cpus / nproc_per_node), so
// that the processes share the node's cores instead of each using all of them.
int launch_omp_num_threads(int threads, const char* inherited_omp, int cpus, int nproc_per_node);

// Returns 0 when every process exited with 0; otherwise the first failure's
// exit status (128 + signal number for a signal), or 124 on timeout.
int launch_local(const LaunchOptions& options);

// A TCP port that was free on 127.0.0.1 a moment ago.
int find_free_port();

}  // namespace instseg
