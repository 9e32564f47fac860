#include "instseg/engine/evaluate.h"

#include "instseg/core/autocast.h"
#include "instseg/core/clock.h"
#include "instseg/core/progress.h"
#include "instseg/engine/distributed.h"
#include "instseg/inference/predict_batch.h"

#include <chrono>
#include <memory>

namespace instseg {
namespace {

// Restores the model's training mode when the loop ends, also by an exception.
struct ModeGuard {
  DetectorImpl& model;
  bool was_training;
  ~ModeGuard() { model.train(was_training); }
};

}  // namespace

EvaluationRun run_evaluation(DetectorImpl& model, const c10::Device& device, BatchSource& source,
                             Evaluator& evaluator, const EvaluationLoopOptions& options) {
  EvaluationRun run;
  ModeGuard guard{model, model.is_training()};
  model.eval();
  evaluator.reset();
  source.start_epoch(0, 0);
  run.expected_batches = source.batches_per_epoch();
  std::unique_ptr<ProgressBar> bar;
  if (options.progress_bar && dist::is_main()) bar = std::make_unique<ProgressBar>(run.expected_batches, options.title);
  const double t_start = now_s();
  for (;;) {
    const double t0 = now_s();
    optional<Batch> b = source.next();
    if (!b) break;
    run.data_time += now_s() - t0;
    std::vector<Instances> preds;
    {
      AutocastGuard ac(device.type(), options.amp);  // none: does nothing
      preds = predict_batch(model, *b, device);
    }
    if (options.on_batch) options.on_batch(*b, preds);
    evaluator.process(*b, preds);
    ++run.batches;
    if (bar) bar->update(1);
  }
  if (bar) bar->finish();
  if (dist::world_size() > 1) {
    std::vector<std::string> parts = dist::gather_bytes(evaluator.dump_partial());
    for (size_t r = 1; r < parts.size(); ++r) evaluator.merge_partial(parts[r]);
  }
  if (dist::is_main()) run.metrics = evaluator.compute();
  run.seconds = now_s() - t_start;
  return run;
}

}  // namespace instseg
