#include "instseg/engine/precise_bn.h"

#include "instseg/core/check.h"
#include "instseg/core/log.h"
#include "instseg/engine/distributed.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/utils.h>

#include <algorithm>
#include <mutex>
#include <vector>

namespace instseg {
namespace {

// One BatchNorm's handles: the module's own buffers (updated in place by its
// forward), its momentum slot, and the running sums kept here.
struct BnSlot {
  at::Tensor running_mean, running_var, num_batches_tracked;
  c10::optional<double>* momentum = nullptr;  // BatchNormOptions::momentum
  c10::optional<double> saved_momentum;
  at::Tensor saved_tracked, saved_mean, saved_var;
  at::Tensor mean_avg, var_avg;
};

template <typename Impl>
bool collect(torch::nn::Module& m, std::vector<BnSlot>* out) {
  auto* bn = dynamic_cast<Impl*>(&m);
  if (bn == nullptr) return false;
  // Frozen (eval-mode) BatchNorms keep their statistics, as in training.
  if (bn->is_training() && bn->options.track_running_stats() && bn->running_mean.defined()) {
    BnSlot s;
    s.running_mean = bn->running_mean;
    s.running_var = bn->running_var;
    s.num_batches_tracked = bn->num_batches_tracked;
    s.momentum = &bn->options.momentum();
    out->push_back(std::move(s));
  }
  return true;
}

}  // namespace

PreciseBnReport update_bn_statistics(DetectorImpl& model, BatchSource& source, const PreciseBnOptions& options) {
  if (options.num_batches < 1) fail("precise BN: num_batches must be >= 1, got ", options.num_batches);
  const bool was_training = model.is_training();
  model.train();
  std::vector<BnSlot> slots;
  for (const auto& m : model.modules(/*include_self=*/true))
    collect<torch::nn::BatchNorm2dImpl>(*m, &slots) || collect<torch::nn::BatchNorm1dImpl>(*m, &slots) ||
        collect<torch::nn::BatchNorm3dImpl>(*m, &slots);
  PreciseBnReport report;
  report.layers = static_cast<int64_t>(slots.size());
  if (slots.empty()) {
    if (!was_training) model.eval();
    return report;
  }

  // momentum 1: after each forward the running buffers hold that batch's mean
  // and (unbiased) variance; their running average over batches is kept here.
  for (BnSlot& s : slots) {
    s.saved_momentum = *s.momentum;
    *s.momentum = 1.0;
    s.saved_tracked = s.num_batches_tracked.defined() ? s.num_batches_tracked.clone() : at::Tensor();
    s.saved_mean = s.running_mean.clone();
    s.saved_var = s.running_var.clone();
    s.mean_avg = at::zeros_like(s.running_mean);
    s.var_avg = at::zeros_like(s.running_var);
  }
  at::Tensor rng_state;
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    rng_state = gen.get_state();
  }
  // Both exits: the averaged (or, on failure, the saved) statistics; count,
  // momentum, RNG and train/eval mode as they were.
  auto finish = [&](bool averaged) {
    {
      torch::NoGradGuard no_grad;
      for (BnSlot& s : slots) {
        s.running_mean.copy_(averaged ? s.mean_avg : s.saved_mean);
        s.running_var.copy_(averaged ? s.var_avg : s.saved_var);
        if (s.saved_tracked.defined()) s.num_batches_tracked.copy_(s.saved_tracked);
        *s.momentum = s.saved_momentum;
      }
    }
    {
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(rng_state);
    }
    if (!was_training) model.eval();
  };
  try {
    torch::NoGradGuard no_grad;
    int64_t epoch = options.first_epoch;
    int64_t empty_epochs = 0;
    source.start_epoch(epoch);
    while (report.batches < options.num_batches) {
      optional<Batch> b = source.next();
      if (!b) {
        // The epoch is over: continue with the next one (its own order and augmentations).
        if (++empty_epochs >= 2) fail("precise BN: the training source yields no batch");
        source.start_epoch(++epoch);
        continue;
      }
      empty_epochs = 0;
      Batch db = batch_to_device(*b, options.device);
      {
        AutocastGuard ac(options.device.type(), options.amp);
        (void)model.forward_train(db);
      }
      ++report.batches;
      const double w = 1.0 / static_cast<double>(report.batches);
      for (BnSlot& s : slots) {
        s.mean_avg.add_(s.running_mean.to(s.mean_avg.scalar_type()) - s.mean_avg, w);
        s.var_avg.add_(s.running_var.to(s.var_avg.scalar_type()) - s.var_avg, w);
      }
    }
  } catch (...) {
    // Leave the model as it was (its old statistics) when a batch fails.
    finish(/*averaged=*/false);
    throw;
  }
  if (dist::world_size() > 1) {
    torch::NoGradGuard no_grad;
    const double world = static_cast<double>(dist::world_size());
    for (BnSlot& s : slots) {
      dist::all_reduce_sum(s.mean_avg);
      dist::all_reduce_sum(s.var_avg);
      s.mean_avg.div_(world);
      s.var_avg.div_(world);
    }
  }
  finish(/*averaged=*/true);
  return report;
}

PreciseBnHook::PreciseBnHook(int64_t num_samples, int64_t interval, int64_t batch_size)
    : num_samples_(num_samples), interval_(interval), batch_size_(batch_size) {
  if (num_samples < 1) fail("PreciseBNHook: num_samples must be >= 1, got ", num_samples);
  if (interval < 1) fail("PreciseBNHook: interval must be >= 1, got ", interval);
  if (batch_size < 1) fail("PreciseBNHook: batch size must be >= 1, got ", batch_size);
}

void PreciseBnHook::after_epoch(Trainer& trainer) {
  const int64_t epoch = trainer.epoch();  // epochs completed
  if (epoch % interval_ != 0 && epoch != trainer.options().max_epochs) return;
  BatchSource* source = trainer.train_data();
  if (source == nullptr) fail("PreciseBNHook: the trainer has no training data");
  PreciseBnOptions o;
  o.num_batches = std::max<int64_t>(1, num_samples_ / (batch_size_ * dist::world_size()));
  // The epoch just trained: its order and augmentations are known-good data.
  o.first_epoch = epoch - 1;
  o.amp = trainer.options().amp;
  o.device = trainer.options().device;
  const PreciseBnReport r = update_bn_statistics(trainer.model(), *source, o);
  log_info("PreciseBNHook: epoch ", epoch, ": running statistics of ", r.layers, " BatchNorm layers from ",
           r.batches, " batches x ", batch_size_, " images x ", dist::world_size(), " process(es)");
}

}  // namespace instseg
