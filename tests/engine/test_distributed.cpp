// Single-process parts of the distributed code: environment parsing, the
// sampler, the launcher, and the no-op behaviour without a process group.
#include "instseg/engine/dist_hooks.h"
#include "instseg/engine/distributed.h"
#include "instseg/engine/launch.h"
#include "instseg/engine/sampler.h"

#include "instseg/core/check.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>

namespace instseg {

namespace {
constexpr const char* kDistVars[] = {"RANK",        "LOCAL_RANK",  "WORLD_SIZE",
                                     "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
                                     "TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_RESTART_COUNT"};
struct EnvGuard {
  explicit EnvGuard(std::vector<std::pair<std::string, std::string>> kv) {
    for (const char* k : kDistVars) ::unsetenv(k);
    for (auto& p : kv) ::setenv(p.first.c_str(), p.second.c_str(), 1);
  }
  ~EnvGuard() {
    for (const char* k : kDistVars) ::unsetenv(k);
  }
};
}  // namespace

TEST(DistEnv, ReadsTorchrunVariables) {
  {
    EnvGuard g({});
    auto e = dist_env_from_environment();
    EXPECT_FALSE(e.from_env);
    EXPECT_EQ(e.world_size, 1);
    EXPECT_EQ(e.master_port, 29500);
  }
  {
    EnvGuard g({{"RANK", "5"}, {"LOCAL_RANK", "1"}, {"WORLD_SIZE", "8"}, {"LOCAL_WORLD_SIZE", "4"},
                {"MASTER_ADDR", "10.0.0.2"}, {"MASTER_PORT", "29501"}});
    auto e = dist_env_from_environment();
    EXPECT_TRUE(e.from_env);
    EXPECT_EQ(e.rank, 5);
    EXPECT_EQ(e.local_rank, 1);
    EXPECT_EQ(e.world_size, 8);
    EXPECT_EQ(e.local_world_size, 4);
    EXPECT_EQ(e.master_addr, "10.0.0.2");
    EXPECT_EQ(e.master_port, 29501);
  }
  {
    EnvGuard g({{"RANK", "2"}, {"WORLD_SIZE", "2"}});
    EXPECT_THROW(dist_env_from_environment(), Error);
  }
  {
    EnvGuard g({{"RANK", "x"}, {"WORLD_SIZE", "2"}});
    EXPECT_THROW(dist_env_from_environment(), Error);
  }
}

TEST(DistEnv, ReadsTorchrunAgentStoreVariables) {
  {
    EnvGuard g({{"RANK", "0"}, {"WORLD_SIZE", "2"}});
    auto e = dist_env_from_environment();
    EXPECT_FALSE(e.use_agent_store);  // our launcher: rank 0 hosts the store
  }
  {
    EnvGuard g({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                {"TORCHELASTIC_RESTART_COUNT", "3"}});
    auto e = dist_env_from_environment();
    EXPECT_TRUE(e.use_agent_store);
    EXPECT_EQ(e.restart_count, 3);
  }
  {
    // torch compares with "True" exactly.
    EnvGuard g({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"TORCHELASTIC_USE_AGENT_STORE", "False"},
                {"TORCHELASTIC_RESTART_COUNT", "0"}});
    EXPECT_FALSE(dist_env_from_environment().use_agent_store);
  }
  {
    EnvGuard g({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"}});
    EXPECT_THROW(dist_env_from_environment(), Error);  // torch raises KeyError too
  }
}

TEST(Distributed, NoOpsWithoutProcessGroup) {
  EXPECT_FALSE(dist::is_initialized());
  EXPECT_EQ(dist::world_size(), 1);
  auto t = at::tensor({2.0f});
  EXPECT_TRUE(reduce_mean(t).equal(t));
  dist::all_reduce_sum(t);
  EXPECT_FLOAT_EQ(t.item<float>(), 2.0f);
  EXPECT_EQ(dist::all_reduce_mean({1.5}), std::vector<double>{1.5});
  EXPECT_EQ(dist::gather_bytes("abc"), std::vector<std::string>{"abc"});
  dist::init(DistEnv{});  // world_size 1: nothing to start
  EXPECT_FALSE(dist::is_initialized());
}

TEST(Sampler, MatchesTorchRandpermAndShards) {
  // Python: g = torch.Generator(); g.manual_seed(0 + 3); torch.randperm(10, generator=g)
  std::vector<int64_t> py = {6, 0, 3, 7, 8, 5, 1, 9, 2, 4};
  EXPECT_EQ(sampler_indices(10, 3, 0, 1, {true, 0}), py);
  // torch.randperm(7, generator=torch.Generator().manual_seed(42)) (seed 40 + epoch 2)
  EXPECT_EQ(sampler_indices(7, 2, 0, 1, {true, 40}), (std::vector<int64_t>{1, 6, 3, 5, 4, 0, 2}));
  // Two ranks interleave the single-process order, padded by wrapping.
  auto r0 = sampler_indices(7, 2, 0, 2, {true, 40}), r1 = sampler_indices(7, 2, 1, 2, {true, 40});
  EXPECT_EQ(r0, (std::vector<int64_t>{1, 3, 4, 2}));
  EXPECT_EQ(r1, (std::vector<int64_t>{6, 5, 0, 1}));
  EXPECT_EQ(sampler_indices(5, 0, 1, 2, {false, 0}), (std::vector<int64_t>{1, 3, 0}));
  EXPECT_EQ(sampler_indices(5, 0, 1, 2, {false, 0, false}), (std::vector<int64_t>{1, 3}));
  EXPECT_NE(sampler_indices(10, 0, 0, 1), sampler_indices(10, 1, 0, 1));
  EXPECT_THROW(sampler_indices(5, 0, 2, 2), c10::Error);
}

TEST(Launch, SetsVariablesAndPropagatesFailure) {
  // Every rank checks its variables; rank 1 then fails: the launcher returns
  // its status and stops rank 0 (which would otherwise sleep 60 s).
  LaunchOptions o;
  o.nproc_per_node = 3;
  o.master_port = 0;
  o.grace_s = 2;
  o.argv = {"/bin/sh", "-c",
            "[ \"$WORLD_SIZE\" = 3 ] && [ \"$LOCAL_RANK\" = \"$RANK\" ] && [ \"$LOCAL_WORLD_SIZE\" = 3 ] "
            "&& [ \"$MASTER_ADDR\" = 127.0.0.1 ] && [ \"$MASTER_PORT\" -gt 0 ] || exit 9; "
            "if [ \"$RANK\" = 1 ]; then exit 3; fi; exec sleep 60"};
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(launch_local(o), 3);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 20.0);

  o.nproc_per_node = 2;
  o.argv = {"/bin/sh", "-c", "exit 0"};
  EXPECT_EQ(launch_local(o), 0);
  o.argv = {"/bin/sh", "-c", "kill -9 $$"};
  EXPECT_EQ(launch_local(o), 128 + 9);
  o.argv = {"/bin/sh", "-c", "exec sleep 60"};
  o.timeout_s = 0.5;
  EXPECT_EQ(launch_local(o), 124);
  EXPECT_GT(find_free_port(), 0);
  EXPECT_FALSE(self_executable().empty());
}

TEST(Launch, ThreadsPerProcessPolicy) {
  EXPECT_EQ(launch_omp_num_threads(3, "7", 16, 2), 3);        // global --threads wins
  EXPECT_EQ(launch_omp_num_threads(0, "7", 16, 2), 0);        // inherited OMP_NUM_THREADS is kept
  EXPECT_EQ(launch_omp_num_threads(0, nullptr, 16, 2), 8);    // the node's CPUs shared
  EXPECT_EQ(launch_omp_num_threads(0, "", 16, 3), 5);
  EXPECT_EQ(launch_omp_num_threads(0, nullptr, 2, 4), 1);     // at least one
}

TEST(Launch, SetsThreadsAndDropsTorchrunAgentVariables) {
  // An inherited OMP_NUM_THREADS / agent-store flag must not reach the
  // children when the launcher decides (its rank 0 hosts the store).
  const char* old_omp = std::getenv("OMP_NUM_THREADS");
  const std::string saved_omp = old_omp ? old_omp : "";
  ::setenv("OMP_NUM_THREADS", "9", 1);
  ::setenv("TORCHELASTIC_USE_AGENT_STORE", "True", 1);
  LaunchOptions o;
  o.nproc_per_node = 2;
  o.nnodes = 1;
  o.master_port = 0;
  o.omp_num_threads = 3;
  o.argv = {"/bin/sh", "-c",
            "[ \"$OMP_NUM_THREADS\" = 3 ] && [ -z \"$TORCHELASTIC_USE_AGENT_STORE\" ] "
            "&& [ \"$GROUP_WORLD_SIZE\" = 1 ] && [ \"$GROUP_RANK\" = 0 ] || exit 5"};
  EXPECT_EQ(launch_local(o), 0);
  o.omp_num_threads = 0;  // inherited as is
  o.argv = {"/bin/sh", "-c", "[ \"$OMP_NUM_THREADS\" = 9 ] || exit 6"};
  EXPECT_EQ(launch_local(o), 0);
  if (old_omp) ::setenv("OMP_NUM_THREADS", saved_omp.c_str(), 1);
  else ::unsetenv("OMP_NUM_THREADS");
  ::unsetenv("TORCHELASTIC_USE_AGENT_STORE");
}

}  // namespace instseg
