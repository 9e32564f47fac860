#include "instseg/io/loader.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <opencv2/core.hpp>

#include "instseg/core/check.h"

namespace instseg {

DataLoader::DataLoader(std::shared_ptr<const CocoDataset> dataset, LoaderOptions opts)
    : dataset_(std::move(dataset)), opts_(std::move(opts)) {
  INSTSEG_CHECK(dataset_ != nullptr, "DataLoader: null dataset");
  INSTSEG_CHECK(opts_.batch_size >= 1, "DataLoader: batch_size must be >= 1");
  INSTSEG_CHECK(opts_.num_workers >= 0, "DataLoader: num_workers must be >= 0");
  INSTSEG_CHECK(opts_.world_size >= 1 && opts_.rank >= 0 && opts_.rank < opts_.world_size,
                "DataLoader: rank ", opts_.rank, " not in [0, world_size=", opts_.world_size, ")");
  INSTSEG_CHECK(opts_.prefetch >= 1, "DataLoader: prefetch must be >= 1");
  // Workers already run in parallel: OpenCV's own thread pool would only
  // oversubscribe the cores (mmengine sets cv2.setNumThreads(0) in workers).
  if (opts_.num_workers > 0) cv::setNumThreads(0);
}

DataLoader::~DataLoader() { stop_workers(); }

std::vector<int64_t> DataLoader::sampler_indices(int64_t n, bool shuffle, uint64_t seed,
                                                 int64_t epoch, int64_t rank, int64_t world_size) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  if (shuffle) {
    // torch.Generator().manual_seed(seed + epoch); torch.randperm(n, generator=g)
    at::Generator gen = at::detail::createCPUGenerator(seed + static_cast<uint64_t>(epoch));
    const at::Tensor perm = at::randperm(n, gen, at::TensorOptions().dtype(at::kLong));
    const int64_t* p = perm.data_ptr<int64_t>();
    std::copy(p, p + n, idx.begin());
  } else {
    for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
  }
  if (n == 0) return {};
  // round_up: repeat to total_size = ceil(n / world) * world, then slice.
  const int64_t total = (n + world_size - 1) / world_size * world_size;
  std::vector<int64_t> out;
  for (int64_t i = rank; i < total; i += world_size) out.push_back(idx[static_cast<size_t>(i % n)]);
  return out;
}

std::vector<std::vector<int64_t>> DataLoader::batch_indices(const std::vector<int64_t>& indices,
                                                            const CocoDataset* dataset,
                                                            int64_t batch_size, bool drop_last,
                                                            bool group_by_aspect) {
  std::vector<std::vector<int64_t>> out;
  const auto bs = static_cast<size_t>(batch_size);
  if (!group_by_aspect) {
    for (size_t i = 0; i < indices.size(); i += bs) {
      std::vector<int64_t> b(indices.begin() + static_cast<std::ptrdiff_t>(i),
                             indices.begin() + static_cast<std::ptrdiff_t>(std::min(i + bs, indices.size())));
      if (b.size() < bs && drop_last) break;
      out.push_back(std::move(b));
    }
    return out;
  }
  INSTSEG_CHECK(dataset != nullptr, "batch_indices: aspect grouping needs the dataset");
  std::vector<int64_t> buckets[2];
  for (int64_t i : indices) {
    const CocoImage& img = dataset->image_info(i);
    auto& bucket = buckets[img.width < img.height ? 0 : 1];
    bucket.push_back(i);
    if (bucket.size() == bs) {
      out.push_back(bucket);
      bucket.clear();
    }
  }
  std::vector<int64_t> left = buckets[0];
  left.insert(left.end(), buckets[1].begin(), buckets[1].end());
  for (size_t i = 0; i < left.size(); i += bs) {
    std::vector<int64_t> b(left.begin() + static_cast<std::ptrdiff_t>(i),
                           left.begin() + static_cast<std::ptrdiff_t>(std::min(i + bs, left.size())));
    if (b.size() < bs && drop_last) break;
    out.push_back(std::move(b));
  }
  return out;
}

void DataLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_work_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void DataLoader::set_epoch(int64_t epoch, int64_t skip) {
  INSTSEG_CHECK(epoch >= 0, "DataLoader: negative epoch");
  INSTSEG_CHECK(skip >= 0, "DataLoader: negative skip");
  stop_workers();
  epoch_ = epoch;
  const auto indices = sampler_indices(dataset_->size(), opts_.shuffle, opts_.seed, epoch,
                                       opts_.rank, opts_.world_size);
  plan_ = batch_indices(indices, dataset_.get(), opts_.batch_size, opts_.drop_last,
                        opts_.aspect_ratio_grouping);
  stop_ = false;
  next_task_ = std::min<int64_t>(skip, num_batches());
  consumed_ = next_task_;
  ready_.clear();
  errors_.clear();
  for (int w = 0; w < opts_.num_workers; ++w) workers_.emplace_back([this] { worker_loop(); });
}

Batch DataLoader::build(int64_t k) const {
  const auto& ids = plan_[static_cast<size_t>(k)];
  std::vector<Sample> samples;
  samples.reserve(ids.size());
  // Seed of each sample: (seed, epoch, rank, batch, slot) only.
  uint64_t s = Rng::mix(opts_.seed, static_cast<uint64_t>(epoch_));
  s = Rng::mix(s, static_cast<uint64_t>(opts_.rank));
  s = Rng::mix(s, static_cast<uint64_t>(k));
  for (size_t j = 0; j < ids.size(); ++j) samples.push_back(dataset_->get(ids[j], Rng::mix(s, j)));
  return collate(samples, opts_.collate);
}

void DataLoader::worker_loop() {
  const int64_t capacity = opts_.prefetch * opts_.num_workers;
  for (;;) {
    int64_t k;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_work_.wait(lock, [&] {
        return stop_ || (next_task_ < num_batches() && next_task_ < consumed_ + capacity);
      });
      if (stop_) return;
      k = next_task_++;
    }
    Batch b;
    std::exception_ptr err;
    try {
      b = build(k);
    } catch (...) {
      err = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (err)
        errors_[k] = err;
      else
        ready_[k] = std::move(b);
    }
    cv_done_.notify_all();
  }
}

optional<Batch> DataLoader::next() {
  if (epoch_ < 0) set_epoch(0);
  if (consumed_ >= num_batches()) return nullopt;
  if (opts_.num_workers == 0) return build(consumed_++);
  std::unique_lock<std::mutex> lock(mu_);
  cv_done_.wait(lock, [&] { return ready_.count(consumed_) || errors_.count(consumed_); });
  const int64_t k = consumed_++;
  cv_work_.notify_all();
  if (errors_.count(k)) {
    std::exception_ptr e = errors_[k];
    errors_.erase(k);
    std::rethrow_exception(e);
  }
  Batch b = std::move(ready_[k]);
  ready_.erase(k);
  return b;
}

}  // namespace instseg
