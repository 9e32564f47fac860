// What the trainer needs from the data pipeline and the evaluator. The engine
// is LibTorch-only; adapters in io/ and eval/ (or a test's synthetic data)
// implement these.
#pragma once
#include "instseg/core/check.h"
#include "instseg/core/compat.h"
#include "instseg/structures/instances.h"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace instseg {

// Named metric values in the order they were produced. mmengine's Evaluator
// keeps its metrics' insertion order and the log prints them in it
// ("coco/bbox_mAP, ..._mAP_l, coco/segm_mAP, ..."), so this is an ordered
// list, not a std::map. Setting an existing name overwrites it in place.
class Metrics {
 public:
  using Entry = std::pair<std::string, double>;
  using const_iterator = std::vector<Entry>::const_iterator;

  Metrics() = default;
  Metrics(std::initializer_list<Entry> entries) {
    for (const Entry& e : entries) set(e.first, e.second);
  }

  void set(const std::string& name, double value) { (*this)[name] = value; }
  // The value of `name`, appended as 0 when absent (std::map's operator[]).
  double& operator[](const std::string& name) {
    for (Entry& e : entries_)
      if (e.first == name) return e.second;
    entries_.emplace_back(name, 0.0);
    return entries_.back().second;
  }
  // Throws instseg::Error when `name` is absent.
  double at(const std::string& name) const {
    for (const Entry& e : entries_)
      if (e.first == name) return e.second;
    fail("metrics: no metric named '", name, "'");
  }
  bool contains(const std::string& name) const {
    for (const Entry& e : entries_)
      if (e.first == name) return true;
    return false;
  }
  size_t count(const std::string& name) const { return contains(name) ? 1 : 0; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const_iterator begin() const { return entries_.begin(); }
  const_iterator end() const { return entries_.end(); }
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
};

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
  // On rank 0, after every rank's partial results were merged. The order of
  // the entries is the order the log lines print them in.
  virtual Metrics compute() = 0;
  // Distributed evaluation: this rank's accumulated results as bytes, and
  // merging another rank's bytes (rank 0). Duplicates from sampler padding
  // are the evaluator's to drop (e.g. by image id). Single-process evaluation
  // never calls these.
  virtual std::string dump_partial() const { fail("evaluator: distributed evaluation not supported"); }
  virtual void merge_partial(const std::string& bytes) { fail("evaluator: distributed evaluation not supported"); }
};

}  // namespace instseg
