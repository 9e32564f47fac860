// Learning-rate schedules with mmengine's semantics (LinearLR warm-up by
// iteration, MultiStepLR by epoch, CosineAnnealingLR), composed
// multiplicatively.
//
// mmengine's schedulers are "chained": each one multiplies the group's current
// lr by a ratio when it steps, so several active schedulers compose as the
// product of their closed-form factors. We evaluate that product directly from
// (iteration, epoch), which makes the schedule stateless: resuming needs only
// the counters, and a resumed run gets bitwise the same lr values.
//
// Step counting follows mmengine's _ParamScheduler: a scheduler's global step
// is the 0-based iteration (by_epoch=false) or the 0-based epoch (by_epoch=true)
// being trained; it is active while begin <= step < end, with
// last_step = step - begin, and keeps its last factor once step >= end.
//
// Example (QueryInst 1x): {linear(start_factor=0.001, begin=0, end=1000,
// by_epoch=false), multistep(milestones={8,11}, gamma=0.1, end=12)}.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace torch::optim {
class Optimizer;
}

namespace instseg {

struct SchedulerSpec {
  enum class Type { linear, multistep, cosine, constant };
  Type type = Type::linear;
  bool by_epoch = true;
  // mmengine's convert_to_iter_based: an epoch-based spec evaluated per
  // iteration (begin/end/milestones/t_max are multiplied by the epoch length).
  bool convert_to_iter_based = false;
  int64_t begin = 0;
  int64_t end = std::numeric_limits<int32_t>::max();  // mmengine's INF = 1e9
  // linear (LinearLR) / constant (ConstantLR: `factor` until end)
  double start_factor = 1.0 / 3.0;
  double end_factor = 1.0;
  double factor = 1.0 / 3.0;
  // multistep (MultiStepLR): milestones are relative to begin, like mmengine.
  std::vector<int64_t> milestones;
  double gamma = 0.1;
  // cosine (CosineAnnealingLR): t_max <= 0 means end - begin. eta_min is an
  // absolute lr (used as a ratio of each group's base lr); eta_min_ratio wins
  // when >= 0 (mmengine's eta_min_ratio).
  int64_t t_max = 0;
  double eta_min = 0.0;
  double eta_min_ratio = -1.0;

  static SchedulerSpec linear_warmup(int64_t iters, double start_factor);
  static SchedulerSpec multistep(std::vector<int64_t> milestones, double gamma, int64_t end_epoch);
  static SchedulerSpec cosine(int64_t t_max, double eta_min, bool by_epoch, int64_t begin = 0);
};

class LrSchedule {
 public:
  LrSchedule() = default;
  // epoch_length: iterations per epoch (needed by convert_to_iter_based specs).
  explicit LrSchedule(std::vector<SchedulerSpec> specs, int64_t epoch_length = 0);

  // Product of all schedulers' factors while training `iter` (global 0-based
  // iteration) of `epoch` (0-based). base_lr is the group's initial lr (only
  // cosine's absolute eta_min needs it).
  double factor(int64_t iter, int64_t epoch, double base_lr = 1.0) const;
  double lr(double base_lr, int64_t iter, int64_t epoch) const {
    return base_lr * factor(iter, epoch, base_lr);
  }
  // Sets every param group's lr to base_lrs[g] * factor(...).
  void apply(torch::optim::Optimizer& opt, const std::vector<double>& base_lrs, int64_t iter,
             int64_t epoch) const;

  const std::vector<SchedulerSpec>& specs() const { return specs_; }
  void set_epoch_length(int64_t n) { epoch_length_ = n; }

 private:
  double spec_factor(const SchedulerSpec& s, int64_t iter, int64_t epoch, double base_lr) const;
  std::vector<SchedulerSpec> specs_;
  int64_t epoch_length_ = 0;
};

}  // namespace instseg
