// Training log output in mmengine's formats:
//  - text lines:  "Epoch(train)  [1][ 50/1509]  lr: 2.1648e-06  eta: 8:27:55  time: 0.2526
//                  data_time: 0.0334  memory: 9182  grad_norm: 3.1416  loss: 1.2345  loss_cls: 0.4567"
//                 (one line; lr-like keys as %.4e, memory as an integer, others %.4f);
//  - scalars.json: one JSON object per line, {"lr": ..., "loss": ..., "epoch": 1, "iter": 50, "step": 50};
//  - windowed averages of the logged values (mmengine's HistoryBuffer mean over
//    the log interval).
#pragma once
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace instseg {

using Scalars = std::vector<std::pair<std::string, double>>;  // ordered name -> value

// Python's str(datetime.timedelta(seconds=int(s))): "8:27:55", "1 day, 2:03:04".
std::string format_eta(double seconds);

// Formats one value the way mmengine's LogProcessor does for `key`.
std::string format_log_value(const std::string& key, double value);

// "Epoch(train)  [1][  50/1509]  " + "key: value  " for each entry (no trailing
// spaces). epoch and iter are 1-based; max_epochs pads the epoch like mmengine.
std::string format_epoch_line(const std::string& mode, int64_t epoch, int64_t max_epochs,
                              int64_t iter, int64_t iters_per_epoch, const Scalars& values);

// One JSON object (no newline), numbers with 10 significant digits; integral
// keys "epoch", "iter", "step" and "memory" are written as integers.
std::string scalars_json(const Scalars& values);

// Appends JSON lines to a file (created or appended to).
class JsonLinesWriter {
 public:
  explicit JsonLinesWriter(const std::string& path);
  ~JsonLinesWriter();
  JsonLinesWriter(const JsonLinesWriter&) = delete;
  JsonLinesWriter& operator=(const JsonLinesWriter&) = delete;
  void write(const Scalars& values);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

// Per-name history of scalars; mean over the last `window` updates.
class MetricHistory {
 public:
  explicit MetricHistory(size_t max_len = 1000) : max_len_(max_len) {}
  void update(const std::string& name, double value);
  double mean(const std::string& name, size_t window) const;
  double latest(const std::string& name) const;
  bool contains(const std::string& name) const { return data_.count(name) != 0; }
  // Names in first-insertion order.
  const std::vector<std::string>& names() const { return order_; }

 private:
  size_t max_len_;
  std::map<std::string, std::deque<double>> data_;
  std::vector<std::string> order_;
};

// Peak CUDA memory allocated since the last call, in MiB (mmengine's
// `memory`); resets the peak. Returns -1 in CPU builds or without a GPU.
int64_t cuda_peak_memory_mb_and_reset(int device = 0);

}  // namespace instseg
