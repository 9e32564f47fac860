#include "instseg/engine/metrics_log.h"

#include "instseg/core/check.h"
#include "instseg/core/compat.h"

#include <cmath>
#include <numeric>

#ifdef INSTSEG_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace instseg {

std::string format_eta(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) seconds = 0;
  int64_t s = static_cast<int64_t>(seconds);
  int64_t days = s / 86400;
  s %= 86400;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>((s / 60) % 60), static_cast<long long>(s % 60));
  if (days == 0) return buf;
  return std::to_string(days) + (days == 1 ? " day, " : " days, ") + buf;
}

std::string format_log_value(const std::string& key, double value) {
  char buf[64];
  if (key == "lr" || key == "base_lr" || (key.size() > 3 && key.compare(key.size() - 3, 3, "_lr") == 0))
    std::snprintf(buf, sizeof buf, "%.4e", value);
  else if (key == "memory" || key == "epoch" || key == "iter" || key == "step")
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(std::llround(value)));
  else
    std::snprintf(buf, sizeof buf, "%.4f", value);
  return buf;
}

std::string format_epoch_line(const std::string& mode, int64_t epoch, int64_t max_epochs,
                              int64_t iter, int64_t iters_per_epoch, const Scalars& values) {
  // mmengine: epoch "[e]" right-justified to len(str(max_epochs)) + 3 (so
  // at least one space follows "Epoch(mode)"),
  // iteration right-justified to the width of the epoch length.
  std::string ep = "[" + std::to_string(epoch) + "]";
  const size_t ep_width = std::to_string(std::max<int64_t>(max_epochs, 1)).size() + 3;
  if (ep.size() < ep_width) ep.insert(0, ep_width - ep.size(), ' ');
  std::string it = std::to_string(iter);
  const std::string total = std::to_string(iters_per_epoch);
  if (it.size() < total.size()) it.insert(0, total.size() - it.size(), ' ');
  std::string line = "Epoch(" + mode + ")" + ep + "[" + it + "/" + total + "]";
  for (const auto& kv : values) line += "  " + kv.first + ": " + format_log_value(kv.first, kv.second);
  return line;
}

namespace {
std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += c;
    }
  }
  return o;
}
}  // namespace

std::string scalars_json(const Scalars& values) {
  std::string o = "{";
  bool first = true;
  for (const auto& kv : values) {
    if (!first) o += ", ";
    first = false;
    o += "\"" + json_escape(kv.first) + "\": ";
    char buf[64];
    const std::string& k = kv.first;
    if (!std::isfinite(kv.second))
      std::snprintf(buf, sizeof buf, "%s", std::isnan(kv.second) ? "NaN" : (kv.second > 0 ? "Infinity" : "-Infinity"));
    else if (k == "epoch" || k == "iter" || k == "step" || k == "memory")
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(std::llround(kv.second)));
    else
      std::snprintf(buf, sizeof buf, "%.10g", kv.second);
    o += buf;
  }
  return o + "}";
}

JsonLinesWriter::JsonLinesWriter(const std::string& path) : path_(path) {
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) fail("metrics: cannot open ", path);
}

JsonLinesWriter::~JsonLinesWriter() {
  if (file_) std::fclose(file_);
}

void JsonLinesWriter::write(const Scalars& values) {
  std::string line = scalars_json(values) + "\n";
  std::fputs(line.c_str(), file_);
  std::fflush(file_);
}

void MetricHistory::update(const std::string& name, double value) {
  auto it = data_.find(name);
  if (it == data_.end()) {
    order_.push_back(name);
    it = data_.emplace(name, std::deque<double>{}).first;
  }
  it->second.push_back(value);
  if (it->second.size() > max_len_) it->second.pop_front();
}

double MetricHistory::mean(const std::string& name, size_t window) const {
  auto it = data_.find(name);
  if (it == data_.end() || it->second.empty()) return 0.0;
  const auto& d = it->second;
  size_t n = std::min(std::max<size_t>(window, 1), d.size());
  return std::accumulate(d.end() - static_cast<std::ptrdiff_t>(n), d.end(), 0.0) / n;
}

double MetricHistory::latest(const std::string& name) const {
  auto it = data_.find(name);
  if (it == data_.end() || it->second.empty()) return 0.0;
  return it->second.back();
}

int64_t cuda_peak_memory_mb_and_reset(int device) {
#ifdef INSTSEG_WITH_CUDA
  if (c10::cuda::device_count() <= device) return -1;
  auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device);
  const auto peak = stats.allocated_bytes[kCudaStatAggregate].peak;
  c10::cuda::CUDACachingAllocator::resetPeakStats(device);
  return static_cast<int64_t>(peak / (1024 * 1024));
#else
  (void)device;
  return -1;
#endif
}

}  // namespace instseg
