// NCCL data-parallel training (label cuda): engine_test_worker processes, one
// per GPU (at most 2; with one GPU a world of one, so that NCCL's process
// group, collectives and gradient averaging still run), train the tiny model
// on cuda:LOCAL_RANK and must end with the weights of one CUDA process that
// saw the whole global batch.
#include "common/cuda_util.h"
#include "common/test_util.h"
#include "engine/tiny_model.h"
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/checkpoint/state_dict.h"
#include "instseg/engine/launch.h"
#include "instseg/engine/trainer.h"

#include <torch/cuda.h>

#include <filesystem>

namespace instseg {
namespace {

TEST(NcclCuda, DataParallelTrainingMatchesOneProcess) {
  INSTSEG_REQUIRE_CUDA();
  const int gpus = static_cast<int>(torch::cuda::device_count());
  const int world = std::min(gpus, 2);
  const auto dir = test::temp_dir("nccl");
  const int steps = 5;
  LaunchOptions lo;
  lo.nproc_per_node = world;
  lo.master_port = 0;
  lo.timeout_s = 180;
  lo.argv = {std::string(INSTSEG_BINARY_DIR) + "/tests/engine/engine_test_worker", "dist-train", dir,
             std::to_string(steps), "nccl"};
  ASSERT_EQ(launch_local(lo), 0) << "see the workers' output above";

  // The same run in one process on cuda:0 with the whole global batch (4).
  at::manual_seed(100);
  test::TinyDetector ref(0.0);
  ref->to(at::kCUDA);
  OptimizerOptions oo;
  oo.type = "SGD";
  oo.lr = 0.05;
  oo.momentum = 0.9;
  oo.weight_decay = 1e-4;
  oo.custom_keys = {{"backbone", 0.5, {}}};
  TrainerOptions to;
  to.work_dir = dir + "/ref";
  to.device = c10::Device(c10::kCUDA);
  to.max_epochs = 100;
  to.max_iters = steps;
  to.clip_max_norm = 1.0;
  to.checkpoint_interval = 0;
  to.tensorboard = to.json_scalars = to.log_file = to.progress_bar = false;
  Trainer t(ref.ptr(), build_optimizer(*ref, oo), LrSchedule({SchedulerSpec::linear_warmup(4, 0.25)}), to);
  test::ToySource train(32, 4, 0, 1, true, 5);
  t.set_train_data(&train);
  t.train();

  TensorDict w = module_state_dict(*ref);
  for (int r = 0; r < world; ++r) {
    TensorDict got = load_state_dict(dir + "/weights_rank" + std::to_string(r) + ".pth");
    ASSERT_EQ(got.size(), w.size());
    for (const auto& kv : w) EXPECT_LE(test::norm_rel(got.at(kv.first), kv.second.cpu()), 1e-5) << kv.first;
  }
  std::cout << "NCCL world size " << world << " (" << gpus << " GPU(s)) matches one process\n";
}

}  // namespace
}  // namespace instseg
