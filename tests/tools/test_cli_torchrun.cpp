// `instseg train` under the real torchrun (label slow): Debian's
// /usr/bin/torchrun (torch 1.13 spelling, with the --redirects/--tee workaround
// for its Python 3.11 crash, see docs/training.md) starts two CPU workers of
// the tiny nuclei run; they must rendezvous through torchrun's agent store,
// take their thread count from torchrun's OMP_NUM_THREADS, and end with the
// same checkpoint (weights and AdamW state) as `instseg launch -n 2`.
// Skipped when /usr/bin/torchrun is absent.
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/engine/launch.h"

#include "common/test_util.h"
#include "tools/cli_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

namespace instseg {
namespace {
namespace fs = std::filesystem;

const char* kTorchrun = "/usr/bin/torchrun";

// Every tensor of a checkpoint by its path ("state_dict/<name>",
// "optimizer/state/<i>/exp_avg", ...).
void collect(const PyValue& v, const std::string& path, std::map<std::string, at::Tensor>& out) {
  if (v.is_tensor()) {
    out[path] = as_tensor(v);
  } else if (v.is_dict()) {
    for (const auto& kv : v.dict_items())
      collect(kv.second, path + "/" + (kv.first.is_str() ? kv.first.as_str() : kv.first.repr()), out);
  } else if (v.is_list() || v.is_tuple()) {
    for (size_t i = 0; i < v.items().size(); ++i) collect(v.items()[i], path + "/" + std::to_string(i), out);
  }
}

std::map<std::string, at::Tensor> checkpoint_tensors(const std::string& path) {
  std::map<std::string, at::Tensor> out;
  collect(read_pth(path).root, "", out);
  return out;
}

// Debian trixie's torch 2.6 is built without libuv, yet its TCPStore (so
// every torchrun rendezvous: static and c10d) asks for libuv by default and
// USE_LIBUV=0 does not reach it: "use_libuv was requested but PyTorch was
// build without libuv support". Then there is no torchrun to test against.
bool torchrun_store_broken(std::string* why) {
  int rc = -1;
  const std::string out = test::run_command(
      "/usr/bin/python3 -c \"import datetime, torch.distributed as d; "
      "d.TCPStore('127.0.0.1', 0, 1, True, datetime.timedelta(seconds=5), multi_tenant=True)\" 2>&1",
      &rc);
  if (rc == 0 || out.find("without libuv") == std::string::npos) return false;
  const size_t at = out.rfind("RuntimeError");
  *why = out.substr(at == std::string::npos ? 0 : at);
  while (!why->empty() && why->back() == '\n') why->pop_back();
  return true;
}

TEST(CliTorchrun, TrainsLikeInstsegLaunch) {
  if (!fs::exists(kTorchrun)) GTEST_SKIP() << kTorchrun << " not found (Debian: apt install python3-torch); skipping";
  std::string why;
  if (torchrun_store_broken(&why))
    GTEST_SKIP() << "this torchrun cannot create its TCPStore (" << why
                 << "; Debian trixie's torch 2.6); `instseg launch` is tested instead (test_tools Launch*)";
  ASSERT_TRUE(fs::exists(test::instseg_binary())) << test::instseg_binary();
  const std::string dir = test::temp_dir("cli_torchrun");
  const std::string ann = test::write_small_nuclei_subset(dir, 2);
  // One epoch: each of the 2 ranks trains on 1 image (one iteration) and
  // validates 1 image (results gathered to rank 0). Full lr from the start so
  // that one AdamW step moves the weights by ~1e-3.
  auto args = [&](const std::string& wd) {
    return test::tiny_train_args(ann, wd, 1) + " param_scheduler.0.start_factor=1.0";
  };
  const int port = find_free_port();

  // torchrun: 1.13 spells options with underscores (2.x accepts both).
  // OMP_NUM_THREADS is left to torchrun, which sets it to 1.
  std::ostringstream tr;
  tr << "env -u OMP_NUM_THREADS -u LOCAL_WORLD_SIZE " << kTorchrun
     << " --no_python --nproc_per_node 2 --redirects 1 --tee 1 --master_addr 127.0.0.1 --master_port " << port << " "
     << test::instseg_binary() << " " << args(dir + "/torchrun");
  int rc = -1;
  const std::string out_tr = test::run_command("timeout 120 " + tr.str(), &rc);
  ASSERT_EQ(rc, 0) << tr.str() << "\n" << out_tr;
  EXPECT_NE(out_tr.find("store torchrun agent's (prefix /worker/attempt_0)"), std::string::npos) << out_tr;
  EXPECT_NE(out_tr.find("distributed: rank 0/2"), std::string::npos) << out_tr;  // rank 1 logs warnings only
  EXPECT_NE(out_tr.find("world size 2"), std::string::npos) << out_tr;
  EXPECT_EQ(test::lines_with(out_tr, "intra-op threads 1 (set from OMP_NUM_THREADS").size(), 2u) << out_tr;
  EXPECT_NE(out_tr.find("Epoch(train) [1][1/1]"), std::string::npos) << out_tr;

  // instseg launch with the global --threads 1 passed on as OMP_NUM_THREADS.
  const std::string la = "env -u OMP_NUM_THREADS " + test::instseg_binary() + " --threads 1 launch -n 2 --timeout 120 -- " +
                         args(dir + "/launch");
  const std::string out_la = test::run_command(la, &rc);
  ASSERT_EQ(rc, 0) << la << "\n" << out_la;
  EXPECT_NE(out_la.find("OMP_NUM_THREADS=1 each"), std::string::npos) << out_la;
  EXPECT_NE(out_la.find("store rank 0's at 127.0.0.1"), std::string::npos) << out_la;
  EXPECT_EQ(test::lines_with(out_la, "intra-op threads 1 (set from OMP_NUM_THREADS").size(), 2u) << out_la;

  const auto a = checkpoint_tensors(dir + "/torchrun/epoch_1.pth");
  const auto b = checkpoint_tensors(dir + "/launch/epoch_1.pth");
  ASSERT_EQ(a.size(), b.size());
  size_t n_exp_avg = 0, n_moved = 0;
  double worst = 0;
  for (const auto& kv : b) {
    ASSERT_TRUE(a.count(kv.first)) << kv.first;
    if (!kv.second.is_floating_point()) {
      EXPECT_TRUE(a.at(kv.first).equal(kv.second)) << kv.first;
      continue;
    }
    const double rel = test::norm_rel(a.at(kv.first), kv.second);
    worst = std::max(worst, rel);
    EXPECT_LE(rel, 1e-6) << kv.first;
    if (kv.first.size() > 8 && kv.first.compare(kv.first.size() - 8, 8, "/exp_avg") == 0) {
      ++n_exp_avg;
      if (kv.second.abs().sum().item<double>() > 0) ++n_moved;
    }
  }
  // The optimizer took a step on (averaged) gradients: the comparison is not
  // between two untouched initialisations.
  EXPECT_GT(n_exp_avg, 50u);
  EXPECT_GT(n_moved, n_exp_avg / 2);
  std::cout << "torchrun vs instseg launch: " << b.size() << " tensors, worst relative difference " << worst
            << "; " << n_moved << "/" << n_exp_avg << " AdamW exp_avg non-zero\n";
  std::error_code ec;
  fs::remove_all(dir, ec);  // ~100 MB of checkpoints
}

}  // namespace
}  // namespace instseg
