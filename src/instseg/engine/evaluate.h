// The evaluation loop shared by the trainer's validation (Trainer::evaluate)
// and `instseg test`: every batch of a source through the one inference path
// (inference/predict_batch.h) into an Evaluator, gathered over ranks, metrics
// computed on rank 0.
//
//   EvaluationRun run = run_evaluation(model, device, val_source, evaluator, {});
//   run.metrics  // {"coco/segm_mAP": ..., ...} on rank 0, empty elsewhere
#pragma once
#include "instseg/core/autocast.h"
#include "instseg/engine/interfaces.h"
#include "instseg/models/detector.h"

#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace instseg {

struct EvaluationLoopOptions {
  bool progress_bar = true;    // on rank 0
  std::string title = "val";   // the progress bar's
  // Called with each batch (as the source gave it) and its predictions (on
  // the CPU), before the evaluator sees them: overlays, result files.
  std::function<void(const Batch&, const std::vector<Instances>&)> on_batch;
  // The network under autocast (`instseg test --dtype bf16`); the trainer's
  // validation leaves it none, so val APs are fp32 whatever the training precision.
  AmpDtype amp = AmpDtype::none;
};

struct EvaluationRun {
  Metrics metrics;        // rank 0: the evaluator's, in its order; other ranks: empty
  int64_t batches = 0;    // this rank's
  int64_t expected_batches = 0;  // source.batches_per_epoch()
  double data_time = 0;   // seconds waiting for batches
  double seconds = 0;     // the whole loop, gathering and compute() included
};

// Puts the model in eval mode for the loop and restores its mode after.
// The evaluator is reset first.
EvaluationRun run_evaluation(DetectorImpl& model, const c10::Device& device, BatchSource& source,
                             Evaluator& evaluator, const EvaluationLoopOptions& options = {});

}  // namespace instseg
