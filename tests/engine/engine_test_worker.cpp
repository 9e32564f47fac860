// Helper processes for the multi-process engine tests (spawned by
// test_engine_slow; not a test itself).
//   engine_test_worker dist-train <dir> <steps> [gloo|nccl]   (under RANK/WORLD_SIZE/... from launch_local;
//                                                  nccl: on cuda:LOCAL_RANK, a group even for one process)
//   engine_test_worker ckpt-loop <work_dir>        (trains and checkpoints every iteration until killed)
//   engine_test_worker hold-lock <work_dir>        (takes the work_dir lock, prints "locked <pid>", sleeps)
#include "instseg/checkpoint/pth_writer.h"
#include "instseg/checkpoint/state_dict.h"
#include "instseg/core/log.h"
#include "instseg/engine/distributed.h"
#include "instseg/engine/trainer.h"
#include "instseg/engine/work_dir_lock.h"
#include "tiny_model.h"

#include <ATen/Parallel.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

using namespace instseg;
using test::TinyDetector;
using test::ToyEvaluator;
using test::ToySource;

namespace {

OptimizerOptions sgd() {
  OptimizerOptions o;
  o.type = "SGD";
  o.lr = 0.05;
  o.momentum = 0.9;
  o.weight_decay = 1e-4;
  o.custom_keys = {{"backbone", 0.5, {}}};
  return o;
}

int dist_train(const std::string& dir, int steps, const std::string& backend) {
  DistEnv env = dist_env_from_environment();
  const bool cuda = backend == "nccl";
  env.always_init = cuda;  // NCCL's path also with a single GPU
  dist::init(env, backend, std::chrono::seconds(60));
  const c10::Device device = cuda ? dist::comm_device() : c10::Device(c10::kCPU);
  const int rank = dist::rank(), world = dist::world_size();
  // Collectives on their own.
  at::Tensor t = at::full({1}, static_cast<float>(rank), at::TensorOptions().device(device));
  if (std::abs(reduce_mean(t).item<float>() - (world - 1) / 2.0f) > 1e-6) return 2;
  auto parts = dist::gather_bytes("rank" + std::to_string(rank));
  if (rank == 0 && (parts.size() != static_cast<size_t>(world) || parts.back() != "rank" + std::to_string(world - 1)))
    return 3;
  if (dist::all_reduce_mean({static_cast<double>(rank)})[0] != (world - 1) / 2.0) return 4;
  {  // bucketed gradient averaging (also with one process: the NCCL path runs)
    at::Tensor p = at::zeros({3}, at::TensorOptions().device(device)).requires_grad_(true);
    p.mutable_grad() = at::full({3}, static_cast<float>(rank + 1), p.options());
    dist::average_gradients({p}, /*bucket_bytes=*/8);
    if (std::abs(p.grad()[2].item<float>() - (world + 1) / 2.0f) > 1e-6) return 5;
  }

  at::manual_seed(100 + rank);  // different on each rank: broadcast must fix it
  TinyDetector model(0.0);
  model->to(device);
  TrainerOptions to;
  to.device = device;
  to.work_dir = dir + "/work";
  to.max_epochs = 100;
  to.max_iters = steps;
  to.clip_max_norm = 1.0;
  to.log_interval = 1;
  to.checkpoint_interval = 0;
  to.progress_bar = false;
  LrSchedule sched({SchedulerSpec::linear_warmup(4, 0.25)});
  Trainer trainer(model.ptr(), build_optimizer(*model, sgd()), sched, to);
  ToySource train(32, 4 / world, rank, world, true, 5);
  ToySource val(12, 2, rank, world, false);
  ToyEvaluator ev;
  trainer.set_train_data(&train);
  trainer.set_val(&val, &ev);
  trainer.train();
  auto metrics = trainer.evaluate();
  save_checkpoint(dir + "/weights_rank" + std::to_string(rank) + ".pth", PyValue::dict(),
                  module_state_dict(*model));
  if (rank == 0) {
    std::ofstream out(dir + "/metrics.txt");
    for (const auto& kv : metrics) out << kv.first << " " << kv.second << "\n";
  }
  dist::shutdown();
  return 0;
}

int ckpt_loop(const std::string& work_dir) {
  at::manual_seed(1);
  TinyDetector model(0.0, /*extra_params=*/4 * 1024 * 1024);  // ~16 MB checkpoints
  TrainerOptions to;
  to.work_dir = work_dir;
  to.max_epochs = 1000000;
  to.checkpoint_interval_iters = 1;
  to.checkpoint_interval = 0;
  to.max_keep_ckpts = 2;
  to.log_interval = 1000;
  to.resume = "auto";
  to.tensorboard = to.json_scalars = to.log_file = false;
  Trainer trainer(model.ptr(), build_optimizer(*model, sgd()), LrSchedule(), to);
  ToySource train(8, 4);
  trainer.set_train_data(&train);
  trainer.train();
  return 0;
}

int hold_lock(const std::string& work_dir) {
  auto lock = WorkDirLock::acquire(work_dir);
  std::cout << "locked " << ::getpid() << std::endl;
  std::this_thread::sleep_for(std::chrono::seconds(120));  // until the test kills us
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    at::set_num_threads(1);
    set_log_level(LogLevel::warning);  // keep the test output readable
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "dist-train" && (argc == 4 || argc == 5))
      return dist_train(argv[2], std::stoi(argv[3]), argc == 5 ? argv[4] : "gloo");
    if (mode == "ckpt-loop" && argc == 3) return ckpt_loop(argv[2]);
    if (mode == "hold-lock" && argc == 3) return hold_lock(argv[2]);
    std::cerr << "usage: engine_test_worker dist-train <dir> <steps> [gloo|nccl] | ckpt-loop <work_dir> | hold-lock <work_dir>\n";
    return 64;
  } catch (const std::exception& e) {
    std::cerr << "engine_test_worker: " << e.what() << "\n";
    return 1;
  }
}
