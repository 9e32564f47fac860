// Training checkpoints: everything needed to continue a run exactly.
//
// The file is a torch.save-compatible zip `.pth` (Python torch.load opens it):
//   meta:             {epoch, iter, batch_in_epoch, seed, world_size, instseg_version, time
//                      [, dataset_meta: {classes: (...), palette: [(r, g, b), ...]}] (mmdet)}
//                     (epoch / iter = completed epochs / iterations, like mmengine)
//   state_dict:       the model's mmdetection-named weights
//   optimizer:        PyTorch's optimizer state_dict layout: {'state': {idx: {...}},
//                     'param_groups': [{'lr', 'initial_lr', 'weight_decay', ..., 'params': [idx...]}]}
//                     (SGD: momentum_buffer; AdamW: step, exp_avg, exp_avg_sq[, max_exp_avg_sq])
//   param_schedulers: [] (our schedules are closed-form in (iter, epoch): nothing to store)
//   grad_scaler:      {'scale', '_growth_tracker'} when fp16 loss scaling is on
//   rng:              {'torch_cpu': the default CPU generator state (uint8 tensor)
//                      [, 'torch_cuda': the current device's generator state]}
//   loader:           {'epoch', 'batch_in_epoch'} (the loader restarts the epoch and skips)
// Files are written atomically (temporary file, fsync, rename; see write_pth).
// work_dir/last_checkpoint holds the path of the newest one (mmengine), also
// replaced atomically, so a crash at any moment leaves a loadable checkpoint.
#pragma once
#include "instseg/checkpoint/py_value.h"
#include "instseg/engine/amp.h"
#include "instseg/engine/optimizer.h"

#include <torch/nn/module.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace instseg {

struct TrainingState {
  int64_t epoch = 0;           // completed epochs
  int64_t iter = 0;            // completed iterations (global)
  int64_t batch_in_epoch = 0;  // batches of epoch `epoch` already trained
  int64_t seed = 0;
  int64_t world_size = 1;
};

// The optimizer in PyTorch's state_dict layout (tensors copied to CPU).
PyValue optimizer_state_value(const BuiltOptimizer& opt);
// Restores per-parameter state (and the groups' current lr) from that layout.
// Throws instseg::Error when the group/parameter counts or shapes differ.
void load_optimizer_state(BuiltOptimizer& opt, const PyValue& value);

// Saves model + optimizer + counters + RNG (+ scaler when enabled).
// extra_meta entries are appended to `meta` (e.g. mmdet's dataset_meta).
void save_training_checkpoint(const std::string& path, const torch::nn::Module& model,
                              const BuiltOptimizer& opt, const TrainingState& state,
                              const GradScaler* scaler = nullptr,
                              const std::vector<std::pair<std::string, PyValue>>& extra_meta = {});

// Loads a file written by save_training_checkpoint into model / optimizer /
// scaler and the RNG; returns the counters. strict applies to the weights.
TrainingState load_training_checkpoint(const std::string& path, torch::nn::Module& model,
                                       BuiltOptimizer& opt, GradScaler* scaler = nullptr,
                                       bool strict = true);

// <work_dir>/last_checkpoint: write (atomically) / read ("" when absent). The
// stored path is absolute; a relative one is taken relative to work_dir.
void write_last_checkpoint(const std::string& work_dir, const std::string& checkpoint_path);
std::string read_last_checkpoint(const std::string& work_dir);

// Deletes all but the newest `keep` (by modification time) of
// work_dir's epoch_*.pth / iter_*.pth, never `protect`. keep <= 0: no-op.
// Returns the deleted paths.
std::vector<std::string> prune_checkpoints(const std::string& work_dir, int keep,
                                           const std::string& protect);

}  // namespace instseg
