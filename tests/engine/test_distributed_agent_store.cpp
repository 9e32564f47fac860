// torchrun's agent-store rendezvous without torchrun (label slow): this test
// plays the elastic agent, hosting the TCPStore on MASTER_PORT itself, and
// starts two engine_test_worker processes with TORCHELASTIC_USE_AGENT_STORE=
// True. They must join that store as clients (a rank-0 server would fail to
// bind the port) under the prefix /worker/attempt_<TORCHELASTIC_RESTART_COUNT>
// and train as usual. The real /usr/bin/torchrun is exercised by
// tests/tools/test_cli_torchrun.cpp.
#include "instseg/engine/distributed.h"
#include "instseg/engine/launch.h"

#include "common/test_util.h"

#include <gtest/gtest.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <filesystem>

namespace instseg {

TEST(MultiProcess, JoinsTorchrunAgentStoreAsClients) {
  const auto dir = test::temp_dir("agent_store");
  const std::string worker = std::string(INSTSEG_BINARY_DIR) + "/tests/engine/engine_test_worker";
  const int port = find_free_port();
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(port);
  so.isServer = true;
  so.waitWorkers = false;
  so.timeout = std::chrono::seconds(60);
  auto agent = dist::make_tcp_store("127.0.0.1", so);

  LaunchOptions lo;
  lo.nproc_per_node = 2;
  lo.master_port = port;  // the agent's port: our workers must not serve on it
  lo.timeout_s = 120;
  lo.omp_num_threads = 1;
  // launch_local drops inherited agent variables, so set them per process.
  lo.argv = {"/bin/sh", "-c",
             "TORCHELASTIC_USE_AGENT_STORE=True TORCHELASTIC_RESTART_COUNT=4 exec \"$0\" dist-train \"$1\" 2",
             worker, dir};
  ASSERT_EQ(launch_local(lo), 0);
  EXPECT_TRUE(std::filesystem::exists(dir + "/weights_rank1.pth"));
  // Gloo's rendezvous keys (rank r's address under "<device index>/<r>";
  // "rank_<r>" in newer Gloo) went under the attempt's prefix, none unprefixed.
  auto has = [&](const std::string& prefix, int r) {
    return agent->check({prefix + "0/" + std::to_string(r)}) || agent->check({prefix + "0/rank_" + std::to_string(r)});
  };
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(has("/worker/attempt_4/", r)) << "rank " << r;
    EXPECT_FALSE(has("", r)) << "rank " << r;
    EXPECT_FALSE(has("/worker/attempt_0/", r)) << "rank " << r;
  }
}

}  // namespace instseg
