// What the trainer needs from the data pipeline and the evaluator. The engine
// is LibTorch-only; adapters in io/ and eval/ (or a test's synthetic data)
// implement these.
#pragma once
#include "instseg/core/check.h"
#include "instseg/core/compat.h"
#include "instseg/structures/instances.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace instseg {

// Batches of one rank. Deterministic given (epoch, position): exact resume
// restarts an epoch and skips what was already trained. A distributed source
// shards with sampler_indices(size, epoch, rank, world, {shuffle, seed}) so
// that every rank yields batches_per_epoch() batches.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Batches per epoch on this rank.
  virtual int64_t batches_per_epoch() const = 0;
  // Begins epoch `epoch` (0-based), skipping its first `skip` batches.
  virtual void start_epoch(int64_t epoch, int64_t skip = 0) = 0;
  // The next batch of the epoch, or nullopt at its end.
  virtual optional<Batch> next() = 0;
};

// Accumulates predictions, then computes metrics (COCO: "coco/segm_mAP", ...).
class Evaluator {
 public:
  virtual ~Evaluator() = default;
  virtual void reset() = 0;
  virtual void process(const Batch& batch, const std::vector<Instances>& predictions) = 0;
  // On rank 0, after every rank's partial results were merged.
  virtual std::map<std::string, double> compute() = 0;
  // Distributed evaluation: this rank's accumulated results as bytes, and
  // merging another rank's bytes (rank 0). Duplicates from sampler padding
  // are the evaluator's to drop (e.g. by image id). Single-process evaluation
  // never calls these.
  virtual std::string dump_partial() const { fail("evaluator: distributed evaluation not supported"); }
  virtual void merge_partial(const std::string& bytes) { fail("evaluator: distributed evaluation not supported"); }
};

}  // namespace instseg
