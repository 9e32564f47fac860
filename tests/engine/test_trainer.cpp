#include "instseg/engine/trainer.h"

#include "common/test_util.h"
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/checkpoint/state_dict.h"
#include "instseg/core/log.h"
#include "instseg/engine/tfevents.h"
#include "tiny_model.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

namespace fs = std::filesystem;

namespace instseg {

using test::TinyDetector;
using test::ToyEvaluator;
using test::ToySource;

namespace {

struct LossRecorder : TrainerHook {
  std::vector<double> losses;
  std::vector<double> lrs;
  void after_iter(Trainer&, const StepResult& r) override {
    losses.push_back(r.loss);
    lrs.push_back(r.lr);
  }
};

fs::path find_file(const fs::path& root, const std::string& prefix) {
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.path().filename().string().rfind(prefix, 0) == 0) return e.path();
  return {};
}

struct TrainRun {
  TinyDetector model{nullptr};
  std::unique_ptr<Trainer> trainer;
  std::shared_ptr<LossRecorder> rec = std::make_shared<LossRecorder>();
};

TrainRun make_run(const std::string& work_dir, const std::string& opt_type, double dropout,
             int64_t init_seed, TrainerOptions to) {
  TrainRun r;
  at::manual_seed(init_seed);
  r.model = TinyDetector(dropout);
  OptimizerOptions oo;
  oo.type = opt_type;
  oo.lr = opt_type == "SGD" ? 0.05 : 0.01;
  oo.momentum = 0.9;
  oo.weight_decay = 1e-4;
  oo.custom_keys = {{"backbone", 0.5, {}}};
  auto built = build_optimizer(*r.model, oo);
  LrSchedule sched({SchedulerSpec::linear_warmup(6, 0.1), SchedulerSpec::multistep({2}, 0.1, 3)});
  to.work_dir = work_dir;
  to.log_interval = 4;
  to.progress_bar = false;
  r.trainer = std::make_unique<Trainer>(r.model.ptr(), std::move(built), sched, to);
  r.trainer->add_hook(r.rec);
  return r;
}

}  // namespace

TEST(Trainer, LossFallsAndEvaluationReportsMetrics) {
  const auto dir = test::temp_dir("trainer_basic");
  TrainerOptions to;
  to.max_epochs = 3;
  to.clip_max_norm = 10.0;
  to.max_keep_ckpts = 2;
  TrainRun r = make_run(dir, "SGD", 0.0, 1, to);
  const LogLevel level = log_level();
  set_log_level(LogLevel::info);  // the log file is under test
  ToySource train(48, 4), val(24, 4, 0, 1, false);
  ToyEvaluator ev;
  r.trainer->set_train_data(&train);
  r.trainer->set_val(&val, &ev);
  r.trainer->train();
  set_log_level(level);

  const auto& L = r.rec->losses;
  ASSERT_EQ(L.size(), 36u);  // 3 epochs x 12 iterations
  const double first = (L[0] + L[1] + L[2]) / 3, last = (L[33] + L[34] + L[35]) / 3;
  EXPECT_LT(last, 0.5 * first) << "first " << first << " last " << last;
  // Warm-up then the epoch-2 decay, seen by the optimizer (first group = backbone, x0.5).
  EXPECT_NEAR(r.rec->lrs[0], 0.05 * 0.5 * 0.1, 1e-12);
  EXPECT_NEAR(r.rec->lrs[12], 0.05 * 0.5, 1e-12);
  EXPECT_NEAR(r.rec->lrs[30], 0.05 * 0.5 * 0.1, 1e-12);

  const auto& m = r.trainer->last_metrics();
  ASSERT_TRUE(m.count("toy/acc"));
  EXPECT_GT(m.at("toy/acc"), 0.6);
  EXPECT_EQ(m.at("toy/num_images"), 24.0);
  EXPECT_EQ(r.trainer->epoch(), 3);
  EXPECT_EQ(r.trainer->iter(), 36);

  // Checkpoints: the newest 2 kept, last_checkpoint -> epoch_3.pth.
  EXPECT_FALSE(fs::exists(fs::path(dir) / "epoch_1.pth"));
  EXPECT_TRUE(fs::exists(fs::path(dir) / "epoch_2.pth"));
  EXPECT_EQ(fs::path(read_last_checkpoint(dir)).filename(), "epoch_3.pth");

  // Logs: text, scalars.json, tfevents (CRC-checked by the reader).
  std::string text;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().extension() == ".log") {
      std::ifstream in(e.path());
      text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  EXPECT_NE(text.find("Epoch(train) [3][12/12]  lr: "), std::string::npos) << text.substr(0, 2000);
  EXPECT_NE(text.find("grad_norm: "), std::string::npos);
  EXPECT_NE(text.find("loss_cls: "), std::string::npos);
  EXPECT_NE(text.find("Epoch(val) [3][6/6]  toy/acc: "), std::string::npos);
  set_log_file("");

  auto js = find_file(dir, "scalars.json");
  ASSERT_FALSE(js.empty());
  std::ifstream jin(js);
  std::string first_line;
  std::getline(jin, first_line);
  EXPECT_EQ(first_line.rfind("{\"lr\": ", 0), 0u) << first_line;
  EXPECT_NE(first_line.find("\"iter\": 4, \"step\": 4}"), std::string::npos) << first_line;

  auto tfe = find_file(dir, "events.out.tfevents.");
  ASSERT_FALSE(tfe.empty());
  auto events = read_tfevents(tfe.string());
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  bool saw_loss = false, saw_acc = false;
  for (const auto& e : events)
    for (const auto& kv : e.scalars) {
      if (kv.first == "loss" && e.step == 36) {
        saw_loss = true;
      }
      if (kv.first == "toy/acc" && e.step == 3) saw_acc = true;
    }
  EXPECT_TRUE(saw_loss);
  EXPECT_TRUE(saw_acc);
}

TEST(Trainer, CheckpointLayoutForPython) {
  const auto dir = test::temp_dir("trainer_ckpt");
  TrainerOptions to;
  to.max_epochs = 1;
  to.tensorboard = to.json_scalars = to.log_file = false;
  TrainRun r = make_run(dir, "AdamW", 0.0, 3, to);
  ToySource train(8, 4);
  r.trainer->set_train_data(&train);
  r.trainer->train();
  PthFile f = read_pth(dir + "/epoch_1.pth");
  EXPECT_EQ(f.format, "zip");
  ASSERT_TRUE(f.root.get("meta") && f.root.get("state_dict") && f.root.get("optimizer"));
  EXPECT_EQ(f.root.get("meta")->get("epoch")->as_int(), 1);
  EXPECT_EQ(f.root.get("meta")->get("iter")->as_int(), 2);
  const PyValue& sd = *f.root.get("state_dict");
  ASSERT_TRUE(sd.get("backbone.weight"));
  EXPECT_TRUE(as_tensor(*sd.get("backbone.weight")).equal(r.model->backbone->weight.detach()));
  const PyValue& opt = *f.root.get("optimizer");
  ASSERT_EQ(opt.get("param_groups")->size(), 2u);  // backbone (x0.5) and the rest
  const PyValue* st0 = opt.get("state")->get(PyValue::from_int(0));
  ASSERT_TRUE(st0);
  EXPECT_TRUE(st0->get("exp_avg") && st0->get("exp_avg_sq"));
  EXPECT_FLOAT_EQ(as_tensor(*st0->get("step")).item<float>(), 2.0f);
  EXPECT_TRUE(as_tensor(*f.root.get("rng")->get("torch_cpu")).numel() > 0);
}

// mmdet writes meta.dataset_meta = the training set's metainfo; its tools
// (and instseg predict/test) read the class names back from there.
TEST(Trainer, CheckpointCarriesDatasetMeta) {
  const auto dir = test::temp_dir("trainer_dsmeta");
  TrainerOptions to;
  to.max_epochs = 1;
  to.tensorboard = to.json_scalars = to.log_file = false;
  to.dataset_classes = {"ball", "kite", "box"};
  to.dataset_palette = {{220, 20, 60}, {119, 11, 32}, {0, 0, 142}};
  TrainRun r = make_run(dir, "SGD", 0.0, 3, to);
  ToySource train(8, 4);
  r.trainer->set_train_data(&train);
  r.trainer->train();
  PthFile f = read_pth(dir + "/epoch_1.pth");
  const PyValue* meta = f.root.get("meta");
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->get("epoch")->as_int(), 1);  // the counters are still there
  const PyValue* dm = meta->get("dataset_meta");
  ASSERT_TRUE(dm && dm->is_dict());
  const PyValue* classes = dm->get("classes");
  ASSERT_TRUE(classes && classes->is_tuple());
  ASSERT_EQ(classes->size(), 3u);
  EXPECT_EQ(classes->items()[0].as_str(), "ball");
  EXPECT_EQ(classes->items()[2].as_str(), "box");
  const PyValue* palette = dm->get("palette");
  ASSERT_TRUE(palette && palette->is_list());
  ASSERT_EQ(palette->size(), 3u);
  EXPECT_EQ(palette->items()[1].items()[0].as_int(), 119);
  EXPECT_EQ(palette->items()[2].items()[2].as_int(), 142);
  // Resuming from it still works (load_training_checkpoint ignores the extra meta).
  TrainerOptions to2 = to;
  to2.max_epochs = 2;
  to2.resume = "auto";
  TrainRun r2 = make_run(dir, "SGD", 0.0, 3, to2);
  ToySource train2(8, 4);
  r2.trainer->set_train_data(&train2);
  r2.trainer->train();
  EXPECT_EQ(r2.trainer->epoch(), 2);

  // Without classes no dataset_meta is written.
  const auto dir2 = test::temp_dir("trainer_nodsmeta");
  TrainerOptions to3;
  to3.max_epochs = 1;
  to3.tensorboard = to3.json_scalars = to3.log_file = false;
  TrainRun r3 = make_run(dir2, "SGD", 0.0, 3, to3);
  ToySource train3(8, 4);
  r3.trainer->set_train_data(&train3);
  r3.trainer->train();
  EXPECT_EQ(read_pth(dir2 + "/epoch_1.pth").root.get("meta")->get("dataset_meta"), nullptr);
}

// Reports COCO-style names in mmdet's order (segm before bbox here, as a
// config with metric=['segm', 'bbox'] would): not alphabetical.
class OrderedEvaluator : public ToyEvaluator {
 public:
  Metrics compute() override {
    const double acc = ToyEvaluator::compute().at("toy/acc");
    Metrics m;
    for (const char* type : {"segm", "bbox"})
      for (const char* k : {"mAP", "mAP_50", "mAP_75", "mAP_s", "mAP_m", "mAP_l"})
        m.set(std::string("coco/") + type + "_" + k, acc);
    return m;
  }
};

TEST(Trainer, ValMetricsKeepTheEvaluatorsOrder) {
  const auto dir = test::temp_dir("trainer_order");
  TrainerOptions to;
  to.max_epochs = 1;
  to.tensorboard = false;
  TrainRun r = make_run(dir, "SGD", 0.0, 1, to);
  const LogLevel level = log_level();
  set_log_level(LogLevel::info);
  ToySource train(8, 4), val(8, 4, 0, 1, false);
  OrderedEvaluator ev;
  r.trainer->set_train_data(&train);
  r.trainer->set_val(&val, &ev);
  r.trainer->train();
  set_log_level(level);
  set_log_file("");

  const std::vector<std::string> want = {
      "coco/segm_mAP", "coco/segm_mAP_50", "coco/segm_mAP_75", "coco/segm_mAP_s", "coco/segm_mAP_m",
      "coco/segm_mAP_l", "coco/bbox_mAP", "coco/bbox_mAP_50", "coco/bbox_mAP_75", "coco/bbox_mAP_s",
      "coco/bbox_mAP_m", "coco/bbox_mAP_l"};
  const Metrics& m = r.trainer->last_metrics();
  ASSERT_EQ(m.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(m.entries()[i].first, want[i]);

  // The log line and scalars.json: the same order, then data_time and time.
  auto positions_in = [&](const std::string& text, std::vector<std::string> keys) {
    std::vector<size_t> pos;
    for (const auto& k : keys) pos.push_back(text.find(k));
    return pos;
  };
  std::string log;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().extension() == ".log") {
      std::ifstream in(e.path());
      log.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  const size_t line_at = log.find("Epoch(val) [1][2/2]  coco/segm_mAP: ");
  ASSERT_NE(line_at, std::string::npos) << log;
  const std::string line = log.substr(line_at, log.find('\n', line_at) - line_at);
  std::vector<std::string> line_keys;
  for (const auto& k : want) line_keys.push_back("  " + k + ": ");
  line_keys.push_back("  data_time: ");
  line_keys.push_back("  time: ");
  const auto pos = positions_in(line, line_keys);
  for (size_t i = 0; i < pos.size(); ++i) {
    ASSERT_NE(pos[i], std::string::npos) << line_keys[i] << " in " << line;
    if (i) {
      EXPECT_LT(pos[i - 1], pos[i]) << line_keys[i] << " in " << line;
    }
  }

  std::ifstream jin(find_file(dir, "scalars.json"));
  std::string jl, val_line;
  while (std::getline(jin, jl))
    if (jl.find("coco/segm_mAP") != std::string::npos) val_line = jl;
  ASSERT_FALSE(val_line.empty());
  EXPECT_EQ(val_line.rfind("{\"coco/segm_mAP\": ", 0), 0u) << val_line;
  std::vector<std::string> json_keys;
  for (const auto& k : want) json_keys.push_back("\"" + k + "\": ");
  json_keys.push_back("\"data_time\": ");
  json_keys.push_back("\"time\": ");
  json_keys.push_back("\"step\": 1}");
  const auto jpos = positions_in(val_line, json_keys);
  for (size_t i = 0; i < jpos.size(); ++i) {
    ASSERT_NE(jpos[i], std::string::npos) << json_keys[i] << " in " << val_line;
    if (i) {
      EXPECT_LT(jpos[i - 1], jpos[i]) << json_keys[i] << " in " << val_line;
    }
  }
}

TEST(Trainer, MetricsContainer) {
  Metrics m{{"b", 1.0}, {"a", 2.0}};
  m.set("c", 3.0);
  m.set("b", 4.0);  // overwritten in place
  m["d"] += 5.0;
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m.entries()[0], (Metrics::Entry{"b", 4.0}));
  EXPECT_EQ(m.entries()[1].first, "a");
  EXPECT_EQ(m.entries()[3], (Metrics::Entry{"d", 5.0}));
  EXPECT_EQ(m.at("c"), 3.0);
  EXPECT_TRUE(m.contains("a"));
  EXPECT_EQ(m.count("zz"), 0u);
  EXPECT_THROW(m.at("zz"), Error);
}

// N iterations, checkpoint, a new process-like setup resumes, M more
// iterations == N+M uninterrupted: losses and weights bitwise equal.
void exact_resume(const std::string& opt_type, double dropout) {
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const int64_t N = 13, M = 9;  // 10 iterations per epoch: resume mid-epoch 2
  TrainerOptions to;
  to.max_epochs = 3;
  to.clip_max_norm = 1.0;
  to.tensorboard = to.json_scalars = to.log_file = false;

  const auto dir_a = test::temp_dir("resume_a");
  to.max_iters = N + M;
  TrainRun a = make_run(dir_a, opt_type, dropout, 7, to);
  ToySource src_a(40, 4, 0, 1, true, 5);
  ToySource val_a(8, 4, 0, 1, false);
  ToyEvaluator ev_a;
  a.trainer->set_train_data(&src_a);
  a.trainer->set_val(&val_a, &ev_a);
  a.trainer->train();
  ASSERT_EQ(a.rec->losses.size(), static_cast<size_t>(N + M));

  const auto dir_b = test::temp_dir("resume_b");
  to.max_iters = N;
  TrainRun b1 = make_run(dir_b, opt_type, dropout, 7, to);
  ToySource src_b(40, 4, 0, 1, true, 5);
  ToySource val_b(8, 4, 0, 1, false);
  ToyEvaluator ev_b;
  b1.trainer->set_train_data(&src_b);
  b1.trainer->set_val(&val_b, &ev_b);
  b1.trainer->train();
  EXPECT_EQ(fs::path(read_last_checkpoint(dir_b)).filename(), "iter_13.pth");
  // Disturb the global RNG: the checkpoint must restore it.
  at::randn({100});

  to.max_iters = N + M;
  to.resume = "auto";
  TrainRun b2 = make_run(dir_b, opt_type, dropout, /*different init*/ 99, to);
  ToySource src_b2(40, 4, 0, 1, true, 5);
  b2.trainer->set_train_data(&src_b2);
  b2.trainer->set_val(&val_b, &ev_b);
  b2.trainer->train();
  ASSERT_EQ(b2.rec->losses.size(), static_cast<size_t>(M));
  for (int64_t k = 0; k < N; ++k) EXPECT_EQ(a.rec->losses[k], b1.rec->losses[k]) << "iteration " << k;
  for (int64_t k = 0; k < M; ++k)
    EXPECT_EQ(a.rec->losses[N + k], b2.rec->losses[k]) << "iteration " << N + k;
  auto wa = module_state_dict(*a.model), wb = module_state_dict(*b2.model);
  ASSERT_EQ(wa.size(), wb.size());
  for (const auto& kv : wa) EXPECT_TRUE(kv.second.equal(wb.at(kv.first))) << kv.first;
  EXPECT_EQ(a.trainer->state().epoch, b2.trainer->state().epoch);
  EXPECT_EQ(a.trainer->state().batch_in_epoch, b2.trainer->state().batch_in_epoch);
  at::set_num_threads(threads);
}

TEST(Trainer, ExactResumeSgdMomentum) { exact_resume("SGD", 0.0); }
TEST(Trainer, ExactResumeAdamWWithDropoutRng) { exact_resume("AdamW", 0.3); }

TEST(Trainer, ResumeRejectsOtherModel) {
  const auto dir = test::temp_dir("trainer_wrong");
  TrainerOptions to;
  to.max_epochs = 1;
  to.tensorboard = to.json_scalars = to.log_file = false;
  TrainRun r = make_run(dir, "SGD", 0.0, 3, to);
  ToySource train(8, 4);
  r.trainer->set_train_data(&train);
  r.trainer->train();
  at::manual_seed(0);
  TinyDetector other(0.0, /*extra_params=*/5);
  OptimizerOptions oo;
  auto built = build_optimizer(*other, oo);
  EXPECT_THROW(load_training_checkpoint(dir + "/epoch_1.pth", *other, built), Error);
}

TEST(Trainer, RequiresALossEntry) {
  struct NoLoss : DetectorImpl {
    NoLoss() { w = register_parameter("w", at::ones({1})); }
    LossMap forward_train(const Batch&) override {
      LossMap m;
      m.set("acc", w.sum());
      return m;
    }
    std::vector<Instances> predict(const Batch&) override { return {}; }
    int64_t num_classes() const override { return 1; }
    at::Tensor w;
  };
  auto model = std::make_shared<NoLoss>();
  OptimizerOptions oo;
  TrainerOptions to;
  to.work_dir = test::temp_dir("noloss");
  Trainer t(model, build_optimizer(*model, oo), LrSchedule(), to);
  Batch b;
  EXPECT_THROW(t.run_step(b), c10::Error);
}

}  // namespace instseg

namespace instseg {

TEST(Trainer, CpuBf16AutocastTrains) {
  const auto dir = test::temp_dir("trainer_bf16");
  TrainerOptions to;
  to.max_epochs = 2;
  to.amp = AmpDtype::bf16;
  to.checkpoint_interval = 0;
  to.tensorboard = to.json_scalars = to.log_file = false;
  TrainRun r = make_run(dir, "SGD", 0.0, 1, to);
  ToySource train(24, 4);
  r.trainer->set_train_data(&train);
  r.trainer->train();
  const auto& L = r.rec->losses;
  ASSERT_EQ(L.size(), 12u);
  for (double l : L) EXPECT_TRUE(std::isfinite(l));
  EXPECT_LT(L.back(), L.front());
  // Weights stay float32 (autocast casts per op only).
  EXPECT_EQ(r.model->backbone->weight.scalar_type(), at::kFloat);
  EXPECT_FALSE(autocast_enabled(c10::DeviceType::CPU));
  // fp16 needs CUDA.
  TrainerOptions bad = to;
  bad.amp = AmpDtype::fp16;
  EXPECT_THROW(make_run(dir, "SGD", 0.0, 1, bad), Error);
}

}  // namespace instseg

// ---- robustness: non-finite losses, checkpoints, stale temporaries ----------

namespace instseg {
namespace {

// TinyDetector whose loss_bbox is NaN on the chosen forward_train calls (1-based),
// with a buffer that forward_train changes (as BatchNorm's running statistics do).
struct FlakyDetectorImpl : test::TinyDetectorImpl {
  FlakyDetectorImpl(std::set<int> nan_calls, bool nan_grad)
      : nan_calls_(std::move(nan_calls)), nan_grad_(nan_grad) {
    seen = register_buffer("seen", at::zeros({1}));
  }
  LossMap forward_train(const Batch& b) override {
    LossMap m = TinyDetectorImpl::forward_train(b);
    {
      at::NoGradGuard ng;
      seen.add_(1);
    }
    if (nan_calls_.count(++calls_)) {
      if (nan_grad_)  // a finite loss (0) whose gradient is NaN: d sqrt(0 * w) / dw
        m.set("loss_sqrt", at::sqrt(backbone->weight * 0.0).sum());
      else
        m.set("loss_bbox", m.at("loss_bbox") + std::numeric_limits<double>::quiet_NaN());
    }
    return m;
  }
  std::set<int> nan_calls_;
  bool nan_grad_;
  int calls_ = 0;
  at::Tensor seen;
};

struct StepRecorder : TrainerHook {
  std::vector<StepResult> steps;
  std::vector<TensorDict> states;  // model state after each iteration (copies)
  void after_iter(Trainer& t, const StepResult& r) override {
    steps.push_back(r);
    TensorDict d;
    for (const auto& kv : module_state_dict(t.model())) d.set(kv.first, kv.second.detach().clone());
    states.push_back(d);
  }
};

struct FlakyRun {
  std::shared_ptr<FlakyDetectorImpl> model;
  std::unique_ptr<Trainer> trainer;
  std::shared_ptr<StepRecorder> rec = std::make_shared<StepRecorder>();
};

FlakyRun make_flaky(const std::string& dir, std::set<int> nan_calls, TrainerOptions to, bool nan_grad = false) {
  FlakyRun r;
  at::manual_seed(5);
  r.model = std::make_shared<FlakyDetectorImpl>(std::move(nan_calls), nan_grad);
  OptimizerOptions oo;
  oo.type = "SGD";
  oo.lr = 0.05;
  oo.momentum = 0.9;
  to.work_dir = dir;
  to.log_interval = 1;
  to.progress_bar = false;
  to.tensorboard = to.json_scalars = false;
  r.trainer = std::make_unique<Trainer>(r.model, build_optimizer(*r.model, oo), LrSchedule(), to);
  r.trainer->add_hook(r.rec);
  return r;
}

std::string run_log(const std::string& dir) {
  std::string text;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().extension() == ".log") {
      std::ifstream in(e.path());
      text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  return text;
}

bool same_state(const TensorDict& a, const TensorDict& b) {
  for (const auto& kv : a)
    if (!at::equal(kv.second, b.at(kv.first))) return false;
  return true;
}

}  // namespace

// mmengine-style: a NaN loss skips the step (nothing changes, BN statistics
// included) with a warning naming the iteration and the loss term; training
// goes on and the checkpoint is finite. It used to train on with NaN.
TEST(TrainerNonFinite, NanLossSkipsTheStepWithAWarning) {
  const auto dir = test::temp_dir("trainer_nan_skip");
  TrainerOptions to;
  to.max_epochs = 1;
  FlakyRun r = make_flaky(dir, {3}, to);
  ToySource train(24, 4);
  r.trainer->set_train_data(&train);
  r.trainer->train();
  const std::string log = run_log(dir);
  set_log_file("");
  ASSERT_EQ(r.rec->steps.size(), 6u);
  EXPECT_TRUE(r.rec->steps[2].skipped);
  EXPECT_TRUE(r.rec->steps[2].nonfinite);
  ASSERT_EQ(r.rec->steps[2].nonfinite_terms.size(), 1u);
  EXPECT_EQ(r.rec->steps[2].nonfinite_terms[0], "loss_bbox=nan");
  EXPECT_TRUE(same_state(r.rec->states[1], r.rec->states[2])) << "the skipped step changed the model";
  EXPECT_FALSE(r.rec->steps[3].skipped);
  EXPECT_FALSE(same_state(r.rec->states[2], r.rec->states[3]));
  EXPECT_NE(log.find("non-finite loss at iteration 3 (epoch 1, batch 3): loss_bbox=nan; step skipped"),
            std::string::npos)
      << log;
  const TensorDict saved = load_state_dict(dir + "/epoch_1.pth");
  EXPECT_TRUE(nonfinite_tensors(saved).empty());
  EXPECT_TRUE(same_state(saved, r.rec->states[5]));
}

// Non-finite for K iterations in a row: a clear error, no further checkpoint.
TEST(TrainerNonFinite, StopsAfterTooManyConsecutiveNonFiniteLosses) {
  std::set<int> from2;
  for (int i = 2; i < 1000; ++i) from2.insert(i);
  {
    const auto dir = test::temp_dir("trainer_nan_stop_default");
    TrainerOptions to;
    to.max_epochs = 5;
    to.log_file = false;
    FlakyRun r = make_flaky(dir, from2, to);  // the default K = 10
    ToySource train(24, 4);
    r.trainer->set_train_data(&train);
    std::string err;
    try {
      r.trainer->train();
    } catch (const Error& e) {
      err = e.what();
    }
    EXPECT_NE(err.find("the loss was non-finite for 10 iterations in a row (2..11"), std::string::npos) << err;
    EXPECT_EQ(r.trainer->iter(), 11);
    EXPECT_TRUE(fs::exists(dir + "/epoch_1.pth"));  // epoch 1 ended after finite weights only
    EXPECT_FALSE(fs::exists(dir + "/epoch_2.pth"));
  }
  {
    const auto dir = test::temp_dir("trainer_nan_stop_k3");
    TrainerOptions to;
    to.max_epochs = 5;
    to.log_file = false;
    to.max_consecutive_nonfinite = 3;
    FlakyRun r = make_flaky(dir, from2, to);
    ToySource train(24, 4);
    r.trainer->set_train_data(&train);
    EXPECT_THROW(r.trainer->train(), Error);
    EXPECT_EQ(r.trainer->iter(), 4);
  }
}

// A finite loss with NaN gradients: with clipping, the NaN gradient norm
// skips the step (stepping would write NaN into every weight).
TEST(TrainerNonFinite, NonFiniteGradientNormSkipsTheStep) {
  const auto dir = test::temp_dir("trainer_nan_grad");
  TrainerOptions to;
  to.max_epochs = 1;
  to.log_file = false;
  to.clip_max_norm = 10.0;
  FlakyRun r = make_flaky(dir, {2}, to, /*nan_grad=*/true);
  ToySource train(12, 4);
  r.trainer->set_train_data(&train);
  r.trainer->train();
  ASSERT_EQ(r.rec->steps.size(), 3u);
  EXPECT_TRUE(r.rec->steps[1].nonfinite);
  ASSERT_EQ(r.rec->steps[1].nonfinite_terms.size(), 1u);
  const std::string& term = r.rec->steps[1].nonfinite_terms[0];  // NaN prints as "nan" or "-nan"
  EXPECT_TRUE(term == "grad_norm=nan" || term == "grad_norm=-nan") << term;
  EXPECT_TRUE(same_state(r.rec->states[0], r.rec->states[1]));
  EXPECT_TRUE(nonfinite_tensors(load_state_dict(dir + "/epoch_1.pth")).empty());
}

// Whatever made the weights non-finite, they are never written: a NaN
// checkpoint would become last_checkpoint and poison --resume.
TEST(TrainerNonFinite, NeverSavesANonFiniteCheckpoint) {
  const auto dir = test::temp_dir("trainer_nan_save");
  TrainerOptions to;
  to.max_epochs = 1;
  to.log_file = false;
  FlakyRun r = make_flaky(dir, {}, to);
  ToySource train(8, 4);
  r.trainer->set_train_data(&train);
  r.trainer->train();
  {
    at::NoGradGuard ng;
    r.model->cls_head->weight[0][0] = std::numeric_limits<float>::infinity();
  }
  std::string err;
  try {
    r.trainer->save_checkpoint(dir + "/epoch_9.pth");
  } catch (const Error& e) {
    err = e.what();
  }
  EXPECT_NE(err.find("refusing to save " + dir + "/epoch_9.pth: 1 of "), std::string::npos) << err;
  EXPECT_NE(err.find("cls_head.weight"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir + "/epoch_9.pth"));
  EXPECT_EQ(fs::path(read_last_checkpoint(dir)).filename(), "epoch_1.pth");
}

// A writer killed mid-checkpoint leaves epoch_N.pth.tmp.<pid>: the next run removes it.
TEST(Trainer, RemovesStaleCheckpointTemporariesAtStart) {
  const auto dir = test::temp_dir("trainer_stale_tmp");
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);  // a pid that is gone
  const std::string stale = dir + "/epoch_3.pth.tmp." + std::to_string(child);
  const std::string stale_last = dir + "/last_checkpoint.tmp." + std::to_string(child);
  std::ofstream(stale) << std::string(1000, 'x');
  std::ofstream(stale_last) << "half";
  TrainerOptions to;
  to.max_epochs = 1;
  to.log_file = false;
  FlakyRun r = make_flaky(dir, {}, to);
  ToySource train(8, 4);
  r.trainer->set_train_data(&train);
  r.trainer->train();
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_FALSE(fs::exists(stale_last));
  EXPECT_TRUE(fs::exists(dir + "/epoch_1.pth"));
}

// Resuming from a checkpoint of another model names the file.
TEST(Trainer, ResumeFromAnotherModelNamesTheFile) {
  const auto dir = test::temp_dir("trainer_wrong_named");
  TrainerOptions to;
  to.max_epochs = 1;
  to.tensorboard = to.json_scalars = to.log_file = false;
  TrainRun r = make_run(dir, "SGD", 0.0, 3, to);
  ToySource train(8, 4);
  r.trainer->set_train_data(&train);
  r.trainer->train();
  TinyDetector other(0.0, /*extra_params=*/5);
  OptimizerOptions oo;
  auto built = build_optimizer(*other, oo);
  std::string err;
  try {
    load_training_checkpoint(dir + "/epoch_1.pth", *other, built);
  } catch (const Error& e) {
    err = e.what();
  }
  EXPECT_EQ(err.rfind(dir + "/epoch_1.pth: ", 0), 0u) << err;
  EXPECT_NE(err.find("missing 1 key: ballast"), std::string::npos) << err;
}

}  // namespace instseg
