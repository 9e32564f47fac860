// The training loop: mmengine's EpochBasedTrainLoop + OptimWrapper + the
// default hooks (logger, param scheduler, checkpoint, validation), for any
// DetectorImpl.
//
//   auto built = build_optimizer(*model, opt_options);
//   LrSchedule sched({SchedulerSpec::linear_warmup(500, 0.001),
//                     SchedulerSpec::multistep({8, 11}, 0.1, 12)});
//   TrainerOptions to;  to.work_dir = "work_dirs/solov2";  to.max_epochs = 12;
//   to.clip_max_norm = 35.0;  to.resume = "auto";
//   Trainer trainer(model, std::move(built), sched, to);
//   trainer.set_train_data(&train_source);
//   trainer.set_val(&val_source, &coco_evaluator);
//   trainer.train();
//
// Distributed: call dist::init() first; the trainer then broadcasts rank 0's
// weights, averages gradients, all-reduces logged losses, logs and writes
// checkpoints on rank 0 only and gathers evaluation results to rank 0.
// The train source must already be this rank's shard.
#pragma once
#include "instseg/engine/amp.h"
#include "instseg/engine/interfaces.h"
#include "instseg/engine/lr_schedule.h"
#include "instseg/engine/metrics_log.h"
#include "instseg/engine/optimizer.h"
#include "instseg/engine/train_checkpoint.h"
#include "instseg/models/detector.h"

#include <c10/core/Device.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace instseg {

class TfEventsWriter;
class JsonLinesWriter;
class WorkDirLock;

struct TrainerOptions {
  std::string work_dir = "work_dirs/run";
  int64_t max_epochs = 12;
  int64_t max_iters = -1;           // also stop after this many iterations (-1: no limit)
  int64_t val_interval = 1;         // validate every N epochs (0: never)
  int64_t val_begin = 1;
  int64_t checkpoint_interval = 1;  // epoch_N.pth every N epochs (0: never)
  int64_t checkpoint_interval_iters = 0;  // iter_N.pth every N iterations (0: never)
  int max_keep_ckpts = -1;          // keep the newest K (-1: all)
  int64_t log_interval = 50;
  optional<double> clip_max_norm;   // clip_grad=dict(max_norm=..., norm_type=2)
  AmpDtype amp = AmpDtype::none;
  c10::Device device = c10::Device(c10::kCPU);
  int64_t seed = 0;                 // the caller seeds; stored in checkpoints
  // "" no resume, "auto" = work_dir/last_checkpoint when it exists, else a path.
  std::string resume;
  bool tensorboard = true;          // vis_data/events.out.tfevents.*
  bool json_scalars = true;         // vis_data/scalars.json
  bool log_file = true;             // <timestamp>/<timestamp>.log
  bool progress_bar = true;         // during evaluation (rank 0)
  // A step whose loss (or, with clipping, gradient norm) is NaN/inf is skipped
  // with a warning naming the iteration and the non-finite loss terms; after
  // this many CONSECUTIVE skipped steps training stops with an error (<= 0:
  // never stop). Config: train_cfg.max_consecutive_nonfinite (instseg's own key).
  int64_t max_consecutive_nonfinite = 10;
  bool lock_work_dir = true;        // WorkDirLock on work_dir (rank 0), see work_dir_lock.h
  // mmdet's checkpoint meta.dataset_meta (the training set's metainfo):
  // written when classes is not empty; palette (RGB) only when known.
  std::vector<std::string> dataset_classes;
  std::vector<std::array<uint8_t, 3>> dataset_palette;
};

// One optimisation step's outcome (losses averaged over ranks).
struct StepResult {
  Scalars values;        // "loss" (the summed loss) then each entry of the LossMap
  double loss = 0;
  double grad_norm = -1; // when clipping is on (mmengine logs it only then)
  double lr = 0;         // first param group's lr used for the step
  bool skipped = false;  // optimizer step skipped (fp16 overflow or a non-finite loss / grad norm)
  // The loss or the gradient norm was NaN/inf: nothing was updated (weights,
  // optimizer, BN statistics); `nonfinite_terms` names the culprits
  // ("loss_mask=nan", "grad_norm=inf").
  bool nonfinite = false;
  std::vector<std::string> nonfinite_terms;
};

class Trainer;

// Called at fixed points of the loop; override what you need.
class TrainerHook {
 public:
  virtual ~TrainerHook() = default;
  virtual void before_train(Trainer&) {}
  virtual void after_iter(Trainer&, const StepResult&) {}
  virtual void after_epoch(Trainer&) {}
  virtual void after_val(Trainer&, const Metrics&) {}
  virtual void after_train(Trainer&) {}
};

class Trainer {
 public:
  Trainer(std::shared_ptr<DetectorImpl> model, BuiltOptimizer optimizer, LrSchedule schedule,
          TrainerOptions options);
  ~Trainer();

  void set_train_data(BatchSource* source) { train_ = source; }
  void set_val(BatchSource* source, Evaluator* evaluator) {
    val_ = source;
    evaluator_ = evaluator;
  }
  void add_hook(std::shared_ptr<TrainerHook> hook) { hooks_.push_back(std::move(hook)); }

  // Runs (or continues) training to max_epochs / max_iters.
  void train();
  // fetch -> forward_train -> sum -> backward -> [all-reduce] -> clip -> step,
  // at the lr of the current (iter, epoch). Advances no counters.
  StepResult run_step(const Batch& batch);
  // Runs the val source through predict() and the evaluator; metrics on
  // rank 0 (empty elsewhere), in the evaluator's order. Logs the
  // "Epoch(val) [e][n/n]  coco/segm_mAP: ...  data_time: ...  time: ..." line.
  Metrics evaluate();

  // Resuming: load everything (weights, optimizer, RNG, counters).
  void load_checkpoint(const std::string& path);
  // Writes path (rank 0 only), updates last_checkpoint, prunes old ones.
  void save_checkpoint(const std::string& path);

  int64_t epoch() const { return state_.epoch; }
  int64_t iter() const { return state_.iter; }
  const TrainingState& state() const { return state_; }
  DetectorImpl& model() { return *model_; }
  BuiltOptimizer& optimizer() { return optimizer_; }
  const TrainerOptions& options() const { return options_; }
  BatchSource* train_data() const { return train_; }
  const Metrics& last_metrics() const { return last_metrics_; }
  std::vector<at::Tensor> trainable_parameters() const;

 private:
  void setup_outputs();
  void log_train(const StepResult& r, double iter_time, double data_time);
  bool should_stop() const;
  std::string checkpoint_name(bool by_epoch) const;
  void check_nonfinite_streak(const StepResult& r);

  std::shared_ptr<DetectorImpl> model_;
  BuiltOptimizer optimizer_;
  LrSchedule schedule_;
  TrainerOptions options_;
  GradScaler scaler_;
  TrainingState state_;
  BatchSource* train_ = nullptr;
  BatchSource* val_ = nullptr;
  Evaluator* evaluator_ = nullptr;
  std::vector<std::shared_ptr<TrainerHook>> hooks_;
  std::vector<at::Tensor> params_;
  std::vector<at::Tensor> buffers_, saved_buffers_;  // restored when a step is skipped
  int64_t nonfinite_streak_ = 0;
  std::shared_ptr<WorkDirLock> lock_;
  MetricHistory history_;
  Metrics last_metrics_;
  std::unique_ptr<TfEventsWriter> tb_;
  std::unique_ptr<JsonLinesWriter> json_;
  bool outputs_ready_ = false;
  double time_sum_ = 0;  // for the eta: seconds over iters_timed_
  int64_t iters_timed_ = 0;
};

// Moves images and ground truth to `device` (non-blocking where possible).
Batch batch_to_device(const Batch& batch, const c10::Device& device);

}  // namespace instseg
