// mmdetection's reduce_mean(num_pos) normaliser (DIIHead, DynamicMaskHead)
// under data parallelism: 2 Gloo processes, one image each, with 1 and 4 GT
// instances, give the loss values (averaged over the ranks, as the trainer
// logs them) and the averaged gradients of 1 process on the 2-image batch.
// With each rank dividing by its own number of positives they do not.
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/checkpoint/state_dict.h"
#include "instseg/engine/launch.h"
#include "queryinst/dist_scene.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

namespace instseg {
namespace {

std::string worker() { return std::string(INSTSEG_BINARY_DIR) + "/tests/queryinst/queryinst_dist_worker"; }

TEST(QueryInstDistributed, TwoProcessesWithUnevenGtEqualOneProcess) {
  const std::string dir = test::temp_dir("queryinst_dist");
  LaunchOptions lo;
  lo.nproc_per_node = 2;
  lo.master_port = 0;
  lo.timeout_s = 120;  // never hang CI
  lo.omp_num_threads = 1;
  lo.argv = {worker(), dir};
  ASSERT_EQ(launch_local(lo), 0);
  const TensorDict r0 = load_state_dict(dir + "/rank0.pth");
  const TensorDict r1 = load_state_dict(dir + "/rank1.pth");

  // One process, the global batch.
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  QueryInst model = test::dist_scene_model();
  TensorDict capture;
  model->set_capture(&capture);
  const LossMap ref = model->forward_train(test::dist_scene_batch({0, 1}));
  test::dist_scene_total(ref).backward();
  at::set_num_threads(threads);

  // The ranks really have different numbers of positives in every stage
  // (else the test could not tell the normalisers apart).
  const int stages = model->options().roi_head.num_stages;
  for (int s = 0; s < stages; ++s) {
    const std::string k = "num_pos.s" + std::to_string(s);
    EXPECT_EQ(r0.at(k).item<int64_t>(), test::dist_scene_gt_counts()[0]) << k;
    EXPECT_EQ(r1.at(k).item<int64_t>(), test::dist_scene_gt_counts()[1]) << k;
  }

  int compared = 0;
  for (const auto& kv : ref) {
    if (kv.first.find("loss") == std::string::npos) continue;
    const double mean = (r0.at(kv.first).item<double>() + r1.at(kv.first).item<double>()) / 2;
    const double want = kv.second.item<double>();
    EXPECT_NEAR(mean, want, 1e-5 * std::max(1.0, std::abs(want))) << kv.first;
    ++compared;
  }
  EXPECT_EQ(compared, 4 * stages);  // loss_cls, loss_bbox, loss_iou, loss_mask per stage

  int grads = 0;
  for (const auto& p : model->named_parameters()) {
    if (!p.value().grad().defined()) continue;
    const at::Tensor g = p.value().grad();
    const at::Tensor g0 = r0.at("grad." + p.key()), g1 = r1.at("grad." + p.key());
    EXPECT_TRUE(g0.equal(g1)) << p.key() << ": ranks disagree after averaging";
    EXPECT_LE(test::max_abs_diff(g0, g), 1e-5 * std::max(1.0, g.abs().max().item<double>())) << p.key();
    ++grads;
  }
  EXPECT_GT(grads, 50);
}

}  // namespace
}  // namespace instseg
