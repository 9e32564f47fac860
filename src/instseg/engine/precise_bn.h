// Precise BatchNorm statistics (detectron2's PreciseBN hook, mmpretrain's
// PreciseBNHook): replaces every training-mode BatchNorm's running mean and
// variance by their plain average over `num_batches` training batches.
//
// Why: in training a BatchNorm's running statistics are an exponential
// average (momentum 0.1) over roughly the last ten batches. With small batches
// of very different images (the nuclei set mixes fluorescence and H&E
// microscopy, 2 images per batch) that average is dominated by whichever
// images came last, so two checkpoints a few iterations apart evaluate
// differently although their weights hardly differ. The average over many
// batches is what evaluation (eval mode) should normalise with.
//
//   PreciseBnOptions o;  o.num_batches = 100;  o.amp = AmpDtype::bf16;
//   PreciseBnReport r = update_bn_statistics(model, train_source, o);
//
// The model runs forward_train under no_grad in training mode (so every layer
// sees what it sees in training: the training pipeline's augmentations, the
// autocast dtype); only BatchNorms that are in training mode and track running
// statistics are updated (frozen stages and norm_eval BatchNorms stay as they
// are). Weights, gradients, num_batches_tracked, the default RNG's state and
// the model's train/eval mode are left as they were, so a run with the hook
// trains exactly as one without it: only evaluation and the saved running
// statistics differ. Distributed: each rank averages over its own batches,
// then the ranks' averages are averaged (all-reduce).
#pragma once
#include "instseg/engine/amp.h"
#include "instseg/engine/interfaces.h"
#include "instseg/engine/trainer.h"
#include "instseg/models/detector.h"

#include <c10/core/Device.h>

#include <cstdint>
#include <memory>

namespace instseg {

struct PreciseBnOptions {
  int64_t num_batches = 200;  // per rank; drawn from consecutive epochs of the source
  int64_t first_epoch = 0;    // the source's epoch to start drawing from
  AmpDtype amp = AmpDtype::none;
  c10::Device device = c10::Device(c10::kCPU);
};

struct PreciseBnReport {
  int64_t layers = 0;   // BatchNorms updated
  int64_t batches = 0;  // batches averaged (this rank)
};

// Throws when num_batches < 1 or the source yields no batch.
PreciseBnReport update_bn_statistics(DetectorImpl& model, BatchSource& source, const PreciseBnOptions& options);

// mmpretrain's PreciseBNHook(num_samples, interval): after every `interval`
// training epochs (and after the last), before that epoch's checkpoint and
// validation, recomputes the statistics from num_samples training images
// (num_samples / (batch_size x world size) batches, at least one).
class PreciseBnHook : public TrainerHook {
 public:
  PreciseBnHook(int64_t num_samples, int64_t interval, int64_t batch_size);
  void after_epoch(Trainer& trainer) override;

 private:
  int64_t num_samples_;
  int64_t interval_;
  int64_t batch_size_;
};

}  // namespace instseg
