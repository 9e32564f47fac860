// Multi-process data-parallel training on c10d (there is no C++ DDP):
// torchrun's environment, a TCPStore rendezvous, ProcessGroupGloo on CPU and
// ProcessGroupNCCL in CUDA builds, parameter broadcast, bucketed gradient
// averaging, scalar reductions and gathering of bytes to rank 0.
//
//   DistEnv env = dist_env_from_environment();   // RANK, WORLD_SIZE, ...
//   dist::init(env, "auto");                     // no-op when world_size == 1
//   dist::broadcast_module(*model);              // rank 0's weights everywhere
//   ... loss.backward(); dist::average_gradients(params); optimizer.step();
//
// State is process-wide (like torch.distributed's default group). Every
// function is a cheap no-op when no group was started (single process).
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/nn/module.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace instseg {

// torchrun's variables (torch.distributed.run / mmdet --launcher pytorch).
struct DistEnv {
  int rank = 0, local_rank = 0, world_size = 1, local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool from_env = false;  // RANK and WORLD_SIZE were set
  // torchrun's elastic agent already hosts the TCPStore at MASTER_ADDR:
  // MASTER_PORT (TORCHELASTIC_USE_AGENT_STORE=True): every rank then joins it
  // as a client under the prefix "/worker/attempt_<restart_count>", as
  // torch.distributed's env:// rendezvous does (_create_c10d_store).
  bool use_agent_store = false;
  int restart_count = 0;  // TORCHELASTIC_RESTART_COUNT
  // Start a process group even for world_size 1 (as torch.distributed does
  // under torchrun); by default one process skips c10d entirely. Tests use it
  // to run NCCL on a single GPU.
  bool always_init = false;
};

// Reads RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT, TORCHELASTIC_USE_AGENT_STORE and TORCHELASTIC_RESTART_COUNT
// (required when the former is "True"). Missing variables mean a single
// process. Throws instseg::Error on malformed or inconsistent values (e.g.
// RANK >= WORLD_SIZE).
DistEnv dist_env_from_environment();

namespace dist {

// A TCPStore (server when options.isServer): LibTorch 2.x's default libuv
// backend where the LibTorch has it, else the classic one (Debian trixie's
// 2.6 is built without libuv and 1.13 only has the classic backend).
c10::intrusive_ptr<c10d::TCPStore> make_tcp_store(const std::string& host, c10d::TCPStoreOptions options);

// Starts the process group. backend: "gloo", "nccl" or "auto" (nccl when the
// build has NCCL and CUDA is available, else gloo). world_size == 1 does
// nothing unless env.always_init. The TCPStore server runs on rank 0 at MASTER_ADDR:MASTER_PORT,
// or, with env.use_agent_store (torchrun), in torchrun's agent.
// Gloo's socket: GLOO_SOCKET_IFNAME when set, 127.0.0.1 when the master is
// local, else the address this host name resolves to.
void init(const DistEnv& env, const std::string& backend = "auto",
          std::chrono::milliseconds timeout = std::chrono::minutes(30));
void shutdown();

bool is_initialized();
int rank();        // 0 when not initialised
int local_rank();  // 0 when not initialised
int world_size();  // 1 when not initialised
bool is_main();    // rank() == 0
std::string backend();  // "gloo", "nccl" or "" when not initialised
// Where collective buffers live: CPU for gloo, cuda:<local_rank> for nccl.
c10::Device comm_device();

void barrier();

// In place, from `root` to every rank (any device; moved through comm_device()).
void broadcast(std::vector<at::Tensor>& tensors, int root = 0);
// Parameters and buffers of `module` from rank 0 (mmengine's DDP start).
void broadcast_module(torch::nn::Module& module, int root = 0);

// In-place SUM across ranks.
void all_reduce_sum(at::Tensor& t);
// The mean of each value across ranks (one collective for the whole vector).
std::vector<double> all_reduce_mean(const std::vector<double>& values);

// Averages the gradients of `params` across ranks: flattened into buckets of at
// most bucket_bytes per dtype and device, one all-reduce per bucket, divided by
// world_size. An undefined gradient counts as zeros (and is allocated), so the
// bucket layout is the same on every rank.
void average_gradients(const std::vector<at::Tensor>& params,
                       int64_t bucket_bytes = 25 * 1024 * 1024);

// Every rank's `local` bytes, in rank order, on `root`; an empty vector on the
// other ranks. Single process: {local}.
std::vector<std::string> gather_bytes(const std::string& local, int root = 0);

}  // namespace dist
}  // namespace instseg
