// Precise BatchNorm statistics (engine/precise_bn.h): the running statistics
// become the plain average of the batches' means and unbiased variances,
// computed by hand here from the same batches; frozen BatchNorms, weights,
// momentum, num_batches_tracked, the RNG and the train/eval mode are left as
// they were; the hook changes nothing but the statistics of a training run.
#include "instseg/engine/precise_bn.h"

#include "common/test_util.h"
#include "instseg/engine/optimizer.h"
#include "instseg/engine/trainer.h"
#include "tiny_model.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>

namespace instseg {
namespace {

using test::ToySource;

// Linear(48 -> 8) -> BatchNorm1d(8) (trained) and Linear(48 -> 4) ->
// BatchNorm1d(4) kept in eval mode (a frozen stage), then a 3-class head.
struct BnDetectorImpl : DetectorImpl {
  BnDetectorImpl() {
    fc = register_module("fc", torch::nn::Linear(48, 8));
    bn = register_module("bn", torch::nn::BatchNorm1d(8));
    frozen_fc = register_module("frozen_fc", torch::nn::Linear(48, 4));
    frozen_bn = register_module("frozen_bn", torch::nn::BatchNorm1d(4));
    head = register_module("head", torch::nn::Linear(12, 3));
  }
  void train(bool on = true) override {
    DetectorImpl::train(on);
    frozen_bn->eval();  // norm_eval: stays in eval mode while training
  }
  at::Tensor bn_input(const Batch& b) { return fc->forward(b.images.flatten(1)); }
  at::Tensor logits(const Batch& b) {
    auto x = at::relu(bn->forward(bn_input(b)));
    auto y = at::relu(frozen_bn->forward(frozen_fc->forward(b.images.flatten(1))));
    // Dropout consumes the default RNG: update_bn_statistics must restore it.
    return head->forward(at::dropout(at::cat({x, y}, 1), 0.5, is_training()));
  }
  LossMap forward_train(const Batch& b) override {
    std::vector<at::Tensor> labels;
    for (const auto& g : b.gts) labels.push_back(g.labels.narrow(0, 0, 1));
    LossMap m;
    m.set("loss_cls", at::cross_entropy_loss(logits(b), at::cat(labels)));
    return m;
  }
  std::vector<Instances> predict(const Batch&) override { return {}; }
  int64_t num_classes() const override { return 3; }

  torch::nn::Linear fc{nullptr}, frozen_fc{nullptr}, head{nullptr};
  torch::nn::BatchNorm1d bn{nullptr}, frozen_bn{nullptr};
};
TORCH_MODULE(BnDetector);

// The expected statistics: `n` batches from `first_epoch` on, continuing into
// the following epochs, as update_bn_statistics draws them.
std::pair<at::Tensor, at::Tensor> expected_stats(BnDetectorImpl& m, ToySource& src, int64_t first_epoch, int64_t n) {
  torch::NoGradGuard ng;
  at::Tensor mean = at::zeros({8}, at::kDouble), var = at::zeros({8}, at::kDouble);
  int64_t epoch = first_epoch, done = 0;
  src.start_epoch(epoch, 0);
  while (done < n) {
    optional<Batch> b = src.next();
    if (!b) {
      src.start_epoch(++epoch, 0);
      continue;
    }
    at::Tensor x = m.bn_input(*b).to(at::kDouble);
    mean += x.mean(0);
    var += x.var(0, /*unbiased=*/true);
    ++done;
  }
  return {mean / static_cast<double>(n), var / static_cast<double>(n)};
}

TEST(PreciseBn, RunningStatisticsAreTheAverageOverBatches) {
  at::manual_seed(3);
  BnDetector model;
  ToySource src(12, 4);  // 3 batches per epoch: 5 batches cross into the next epoch
  // Training-like state: some EMA statistics and a count.
  model->train();
  {
    torch::NoGradGuard ng;
    src.start_epoch(7, 0);
    for (int i = 0; i < 2; ++i) (void)model->forward_train(*src.next());
  }
  model->eval();
  const at::Tensor w = model->fc->weight.clone(), frozen_mean = model->frozen_bn->running_mean.clone(),
                   frozen_var = model->frozen_bn->running_var.clone(), tracked = model->bn->num_batches_tracked.clone();
  const auto [mean, var] = expected_stats(*model, src, 2, 5);
  at::manual_seed(11);
  const at::Tensor rng_before = at::rand({4});
  at::manual_seed(11);

  PreciseBnOptions o;
  o.num_batches = 5;
  o.first_epoch = 2;
  const PreciseBnReport r = update_bn_statistics(*model, src, o);
  EXPECT_EQ(r.layers, 1);  // the frozen one is not counted
  EXPECT_EQ(r.batches, 5);
  EXPECT_TRUE(at::allclose(model->bn->running_mean.to(at::kDouble), mean, 1e-6, 1e-6))
      << model->bn->running_mean << mean;
  EXPECT_TRUE(at::allclose(model->bn->running_var.to(at::kDouble), var, 1e-6, 1e-6)) << model->bn->running_var << var;
  EXPECT_TRUE(at::equal(model->frozen_bn->running_mean, frozen_mean));
  EXPECT_TRUE(at::equal(model->frozen_bn->running_var, frozen_var));
  EXPECT_TRUE(at::equal(model->fc->weight, w));
  EXPECT_TRUE(at::equal(model->bn->num_batches_tracked, tracked));
  ASSERT_TRUE(model->bn->options.momentum().has_value());
  EXPECT_DOUBLE_EQ(*model->bn->options.momentum(), 0.1);
  EXPECT_FALSE(model->is_training());  // back in eval mode
  EXPECT_TRUE(at::equal(at::rand({4}), rng_before));  // the dropout's draws were undone
}

// A source whose second batch fails (an unreadable image, say).
class FailingSource : public ToySource {
 public:
  FailingSource() : ToySource(12, 4) {}
  optional<Batch> next() override {
    if (++calls_ == 2) fail("batch 2 cannot be read");
    return ToySource::next();
  }

 private:
  int calls_ = 0;
};

TEST(PreciseBn, AFailingBatchLeavesTheStatisticsAsTheyWere) {
  BnDetector model;
  model->bn->running_mean.fill_(0.5);
  model->bn->running_var.fill_(2.0);
  FailingSource src;
  PreciseBnOptions o;
  o.num_batches = 3;
  EXPECT_THROW(update_bn_statistics(*model, src, o), Error);  // after one batch went through
  EXPECT_TRUE(at::equal(model->bn->running_mean, at::full({8}, 0.5)));
  EXPECT_TRUE(at::equal(model->bn->running_var, at::full({8}, 2.0)));
  EXPECT_EQ(model->bn->num_batches_tracked.item<int64_t>(), 0);
  EXPECT_DOUBLE_EQ(*model->bn->options.momentum(), 0.1);
}

TEST(PreciseBn, ChecksItsArguments) {
  BnDetector model;
  ToySource src(12, 4);
  PreciseBnOptions o;
  o.num_batches = 0;
  EXPECT_THROW(update_bn_statistics(*model, src, o), Error);
  ToySource empty(3, 4);  // fewer samples than a batch: no batch at all
  o.num_batches = 2;
  EXPECT_THROW(update_bn_statistics(*model, empty, o), Error);
  // The failed call left the momentum as it was.
  EXPECT_DOUBLE_EQ(*model->bn->options.momentum(), 0.1);
  EXPECT_THROW(PreciseBnHook(0, 1, 2), Error);
  EXPECT_THROW(PreciseBnHook(8, 0, 2), Error);
}

// Two 2-epoch trainings, with and without the hook (interval 1, 8 samples =
// 2 batches of 4): the same weights after every step (the hook only touches
// running statistics, and restores the RNG the dropout draws from); the
// statistics after training are the average over the last epoch's first 2
// batches.
TEST(PreciseBn, HookChangesOnlyTheStatistics) {
  std::vector<BnDetector> models;
  for (bool hook : {false, true}) {
    at::manual_seed(5);
    BnDetector model;
    OptimizerOptions oo;
    oo.type = "SGD";
    oo.lr = 0.05;
    oo.momentum = 0.9;
    TrainerOptions to;
    to.work_dir = test::temp_dir(hook ? "precise_bn_hook" : "precise_bn_plain");
    to.max_epochs = 2;
    to.checkpoint_interval = 0;
    to.progress_bar = false;
    to.tensorboard = to.json_scalars = to.log_file = false;
    Trainer trainer(model.ptr(), build_optimizer(*model, oo), LrSchedule(), to);
    ToySource src(12, 4);
    trainer.set_train_data(&src);
    if (hook) trainer.add_hook(std::make_shared<PreciseBnHook>(8, 1, 4));
    trainer.train();
    models.push_back(model);
  }
  BnDetector plain = models[0];
  BnDetector hooked = models[1];
  EXPECT_TRUE(at::equal(plain->fc->weight, hooked->fc->weight));
  EXPECT_TRUE(at::equal(plain->head->weight, hooked->head->weight));
  EXPECT_FALSE(at::allclose(plain->bn->running_mean, hooked->bn->running_mean));
  ToySource src(12, 4);
  const auto [mean, var] = expected_stats(*hooked, src, /*first_epoch=*/1, /*n=*/2);
  EXPECT_TRUE(at::allclose(hooked->bn->running_mean.to(at::kDouble), mean, 1e-6, 1e-6));
  EXPECT_TRUE(at::allclose(hooked->bn->running_var.to(at::kDouble), var, 1e-6, 1e-6));
}

}  // namespace
}  // namespace instseg
