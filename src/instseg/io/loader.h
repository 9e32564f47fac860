// Epoch-based batch loader: mmengine's DefaultSampler (seeded shuffle,
// distributed slicing) + mmdet's AspectRatioBatchSampler + worker threads.
//
//   DataLoader loader(dataset, opts);
//   for (int64_t e = 0; e < epochs; ++e) {
//     loader.set_epoch(e);
//     while (auto batch = loader.next()) { ... }
//   }
//
// Order: per epoch the indices are torch.randperm(n) with a generator seeded
// by seed + epoch (the same permutation on every rank), padded by repetition
// to a multiple of world_size and sliced rank::world_size. Grouping puts
// images with w < h and w >= h in separate buckets and emits a batch whenever
// a bucket is full; leftovers are batched together at the end (dropped when
// drop_last). Batch k's content depends only on (seed, epoch, rank, k), never
// on thread timing: every sample's transforms draw from their own Rng.
#pragma once
#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "instseg/core/compat.h"
#include "instseg/io/coco_dataset.h"
#include "instseg/io/collate.h"

namespace instseg {

struct LoaderOptions {
  int64_t batch_size = 2;
  int num_workers = 2;      // 0: batches are built in next()
  bool shuffle = true;
  uint64_t seed = 0;
  bool drop_last = false;
  bool aspect_ratio_grouping = true;
  int64_t rank = 0;         // distributed sharding (engine sets these)
  int64_t world_size = 1;
  int64_t prefetch = 2;     // batches in flight per worker
  CollateOptions collate;
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const CocoDataset> dataset, LoaderOptions opts);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Starts epoch e (stops the current one). next() calls set_epoch(0) if needed.
  // skip > 0 starts at batch `skip` of the epoch's plan (exact resume: the
  // skipped batches are never built).
  void set_epoch(int64_t epoch, int64_t skip = 0);
  // The next batch of the epoch, or nullopt at its end. Rethrows a worker's error.
  optional<Batch> next();

  int64_t epoch() const { return epoch_; }
  // Dataset indices of each batch of the current epoch on this rank.
  const std::vector<std::vector<int64_t>>& plan() const { return plan_; }
  int64_t num_batches() const { return static_cast<int64_t>(plan_.size()); }
  const CocoDataset& dataset() const { return *dataset_; }

  // The sampler alone (public for tests): this rank's indices of one epoch.
  static std::vector<int64_t> sampler_indices(int64_t n, bool shuffle, uint64_t seed, int64_t epoch,
                                              int64_t rank, int64_t world_size);
  // AspectRatioBatchSampler / plain batching of `indices`.
  static std::vector<std::vector<int64_t>> batch_indices(const std::vector<int64_t>& indices,
                                                         const CocoDataset* dataset,
                                                         int64_t batch_size, bool drop_last,
                                                         bool group_by_aspect);

 private:
  Batch build(int64_t k) const;
  void stop_workers();
  void worker_loop();

  std::shared_ptr<const CocoDataset> dataset_;
  LoaderOptions opts_;
  int64_t epoch_ = -1;
  std::vector<std::vector<int64_t>> plan_;

  std::mutex mu_;
  std::condition_variable cv_work_, cv_done_;
  bool stop_ = false;
  int64_t next_task_ = 0;  // next batch a worker will build
  int64_t consumed_ = 0;   // next batch next() returns
  std::map<int64_t, Batch> ready_;
  std::map<int64_t, std::exception_ptr> errors_;
  std::vector<std::thread> workers_;
};

}  // namespace instseg
