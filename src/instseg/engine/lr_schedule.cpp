#include "instseg/engine/lr_schedule.h"

#include "instseg/core/check.h"

#include <torch/optim/optimizer.h>

#include <algorithm>
#include <cmath>

namespace instseg {

namespace {
constexpr int64_t kInf = std::numeric_limits<int32_t>::max();
}

SchedulerSpec SchedulerSpec::linear_warmup(int64_t iters, double start_factor) {
  SchedulerSpec s;
  s.type = Type::linear;
  s.by_epoch = false;
  s.begin = 0;
  s.end = iters;
  s.start_factor = start_factor;
  s.end_factor = 1.0;
  return s;
}

SchedulerSpec SchedulerSpec::multistep(std::vector<int64_t> milestones, double gamma,
                                       int64_t end_epoch) {
  SchedulerSpec s;
  s.type = Type::multistep;
  s.by_epoch = true;
  s.begin = 0;
  s.end = end_epoch;
  s.milestones = std::move(milestones);
  s.gamma = gamma;
  return s;
}

SchedulerSpec SchedulerSpec::cosine(int64_t t_max, double eta_min, bool by_epoch, int64_t begin) {
  SchedulerSpec s;
  s.type = Type::cosine;
  s.by_epoch = by_epoch;
  s.begin = begin;
  s.t_max = t_max;
  s.end = t_max > 0 ? begin + t_max : kInf;
  s.eta_min = eta_min;
  return s;
}

LrSchedule::LrSchedule(std::vector<SchedulerSpec> specs, int64_t epoch_length)
    : specs_(std::move(specs)), epoch_length_(epoch_length) {
  for (const auto& s : specs_) {
    INSTSEG_CHECK(s.end > s.begin, "lr schedule: end (", s.end, ") must exceed begin (", s.begin,
                  ")");
    if (s.type == SchedulerSpec::Type::linear) {
      INSTSEG_CHECK(s.end - s.begin >= 2 || s.end == kInf,
                    "lr schedule: LinearLR needs end - begin >= 2");
      INSTSEG_CHECK(s.start_factor > 0 && s.start_factor <= 1.0,
                    "lr schedule: LinearLR start_factor must be in (0, 1]");
    }
    if (s.type == SchedulerSpec::Type::multistep)
      INSTSEG_CHECK(std::is_sorted(s.milestones.begin(), s.milestones.end()),
                    "lr schedule: MultiStepLR milestones must be increasing");
    if (s.type == SchedulerSpec::Type::cosine)
      INSTSEG_CHECK(s.t_max > 0 || s.end != kInf, "lr schedule: CosineAnnealingLR needs t_max or end");
  }
}

double LrSchedule::spec_factor(const SchedulerSpec& s0, int64_t iter, int64_t epoch,
                               double base_lr) const {
  SchedulerSpec s = s0;
  int64_t step = s.by_epoch ? epoch : iter;
  if (s.by_epoch && s.convert_to_iter_based) {
    INSTSEG_CHECK(epoch_length_ > 0, "lr schedule: convert_to_iter_based needs the epoch length");
    const int64_t L = epoch_length_;
    s.begin *= L;
    if (s.end != kInf) s.end *= L;
    for (auto& m : s.milestones) m *= L;
    s.t_max *= L;
    step = iter;
  }
  if (step < s.begin) return 1.0;  // not started: the chain has not touched the lr
  // Frozen at the last active step once past `end`.
  const int64_t last = std::min(step, s.end - 1) - s.begin;
  switch (s.type) {
    case SchedulerSpec::Type::linear: {
      if (s.end == kInf) return s.start_factor;  // degenerate; mmengine divides by ~INF
      const double total = static_cast<double>(s.end - s.begin - 1);
      return s.start_factor +
             (s.end_factor - s.start_factor) * std::min<double>(total, static_cast<double>(last)) /
                 total;
    }
    case SchedulerSpec::Type::constant: {
      const int64_t total = s.end - s.begin - 1;
      return last >= total ? 1.0 : s.factor;
    }
    case SchedulerSpec::Type::multistep: {
      // Milestone m multiplies by gamma at last_step == m (counts duplicates).
      int64_t n = 0;
      for (auto m : s.milestones)
        if (m <= last) ++n;
      return std::pow(s.gamma, static_cast<double>(n));
    }
    case SchedulerSpec::Type::cosine: {
      const int64_t t_max = s.t_max > 0 ? s.t_max : s.end - s.begin;
      const double ratio = s.eta_min_ratio >= 0 ? s.eta_min_ratio
                           : base_lr > 0        ? s.eta_min / base_lr
                                                : 0.0;
      const double c = 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(last) / t_max));
      return ratio + (1.0 - ratio) * c;
    }
  }
  return 1.0;
}

double LrSchedule::factor(int64_t iter, int64_t epoch, double base_lr) const {
  double f = 1.0;
  for (const auto& s : specs_) f *= spec_factor(s, iter, epoch, base_lr);
  return f;
}

void LrSchedule::apply(torch::optim::Optimizer& opt, const std::vector<double>& base_lrs,
                       int64_t iter, int64_t epoch) const {
  auto& groups = opt.param_groups();
  INSTSEG_CHECK(groups.size() == base_lrs.size(), "lr schedule: ", groups.size(),
                " param groups but ", base_lrs.size(), " base lrs");
  for (size_t g = 0; g < groups.size(); ++g)
    groups[g].options().set_lr(lr(base_lrs[g], iter, epoch));
}

}  // namespace instseg
