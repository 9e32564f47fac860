// Helper process of test_queryinst_distributed (not a test itself):
//   queryinst_dist_worker <dir>   (under RANK/WORLD_SIZE/... from launch_local)
// Rank r computes the QueryInst losses of image r of the global batch
// (dist_scene.h), back-propagates their sum, averages the gradients across
// ranks as the trainer does, and writes <dir>/rank<r>.pth: every loss value,
// the number of positives it assigned ("num_pos.s<stage>") and the averaged
// gradients ("grad.<parameter>").
#include "instseg/checkpoint/pth_writer.h"
#include "instseg/engine/distributed.h"
#include "queryinst/dist_scene.h"

#include <ATen/Parallel.h>

#include <iostream>

using namespace instseg;

namespace {

int run(const std::string& dir) {
  dist::init(dist_env_from_environment(), "gloo", std::chrono::seconds(60));
  const int rank = dist::rank();
  QueryInst model = test::dist_scene_model();
  TensorDict capture;
  model->set_capture(&capture);
  const LossMap losses = model->forward_train(test::dist_scene_batch({rank}));
  test::dist_scene_total(losses).backward();
  std::vector<at::Tensor> params;
  for (const auto& p : model->named_parameters())
    if (p.value().requires_grad()) params.push_back(p.value());
  dist::average_gradients(params);

  TensorDict out;
  for (const auto& kv : losses) out.set(kv.first, kv.second.detach());
  for (int s = 0; s < model->options().roi_head.num_stages; ++s) {
    const at::Tensor a = capture.at("queryinst.stage" + std::to_string(s) + ".assigned_gt_inds");
    out.set("num_pos.s" + std::to_string(s), (a > 0).sum());
  }
  for (const auto& p : model->named_parameters())
    if (p.value().grad().defined()) out.set("grad." + p.key(), p.value().grad());
  save_checkpoint(dir + "/rank" + std::to_string(rank) + ".pth", PyValue::dict(), out);
  dist::shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    at::set_num_threads(1);
    if (argc == 2) return run(argv[1]);
    std::cerr << "usage: queryinst_dist_worker <dir>\n";
    return 64;
  } catch (const std::exception& e) {
    std::cerr << "queryinst_dist_worker: " << e.what() << "\n";
    return 1;
  }
}
