#include "instseg/engine/trainer.h"

#include "instseg/checkpoint/state_dict.h"
#include "instseg/core/atomic_file.h"
#include "instseg/core/clock.h"
#include "instseg/core/log.h"
#include "instseg/core/progress.h"
#include "instseg/engine/distributed.h"
#include "instseg/engine/evaluate.h"
#include "instseg/engine/grad_clip.h"
#include "instseg/engine/metrics_log.h"
#include "instseg/engine/tfevents.h"
#include "instseg/engine/work_dir_lock.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>

namespace fs = std::filesystem;

namespace instseg {

namespace {

std::string timestamp_dir() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d_%H%M%S", &tm);
  return buf;
}

at::Tensor to_dev(const at::Tensor& t, const c10::Device& d) {
  return t.defined() ? t.to(d, /*non_blocking=*/true) : t;
}

}  // namespace

Batch batch_to_device(const Batch& batch, const c10::Device& device) {
  Batch out;
  out.metas = batch.metas;
  out.images = to_dev(batch.images, device);
  out.gts.reserve(batch.gts.size());
  for (const auto& g : batch.gts) {
    GtInstances d;
    d.bboxes = to_dev(g.bboxes, device);
    d.labels = to_dev(g.labels, device);
    d.masks = to_dev(g.masks, device);
    out.gts.push_back(std::move(d));
  }
  return out;
}

Trainer::Trainer(std::shared_ptr<DetectorImpl> model, BuiltOptimizer optimizer,
                 LrSchedule schedule, TrainerOptions options)
    : model_(std::move(model)),
      optimizer_(std::move(optimizer)),
      schedule_(std::move(schedule)),
      options_(std::move(options)),
      scaler_(options_.amp == AmpDtype::fp16),
      history_(std::max<size_t>(static_cast<size_t>(std::max<int64_t>(options_.log_interval, 1)), 1)) {
  INSTSEG_CHECK(model_ != nullptr, "trainer: no model");
  INSTSEG_CHECK(optimizer_.optimizer != nullptr, "trainer: no optimizer");
  INSTSEG_CHECK(options_.max_epochs >= 1, "trainer: max_epochs must be >= 1");
  INSTSEG_CHECK(options_.log_interval >= 1, "trainer: log_interval must be >= 1");
  if (options_.amp == AmpDtype::fp16 && options_.device.is_cpu())
    fail("trainer: fp16 autocast needs CUDA (use bf16 on CPU)");
  for (const auto& g : optimizer_.optimizer->param_groups())
    for (const auto& p : g.params()) params_.push_back(p);
  for (const auto& b : model_->buffers())
    if (b.defined()) buffers_.push_back(b);
  state_.seed = options_.seed;
  state_.world_size = dist::world_size();
}

Trainer::~Trainer() = default;

std::vector<at::Tensor> Trainer::trainable_parameters() const { return params_; }

void Trainer::setup_outputs() {
  if (outputs_ready_) return;
  outputs_ready_ = true;
  if (!dist::is_main()) return;
  fs::create_directories(options_.work_dir);
  if (options_.lock_work_dir) lock_ = WorkDirLock::acquire(options_.work_dir);
  // Checkpoint temporaries of a writer that was killed mid-write. With the
  // lock held no other writer can be active here, so every one that is not
  // ours is stale.
  for (const auto& f : remove_stale_temp_files(options_.work_dir, /*owner=*/lock_ != nullptr,
                                               {".pth", "last_checkpoint"}))
    log_warning("trainer: removed ", f, ", a temporary file left by a checkpoint write that was interrupted");
  const std::string ts = timestamp_dir();
  const fs::path run = fs::path(options_.work_dir) / ts;
  fs::create_directories(run / "vis_data");
  if (options_.log_file) set_log_file((run / (ts + ".log")).string());
  if (options_.tensorboard) tb_ = std::make_unique<TfEventsWriter>((run / "vis_data").string());
  if (options_.json_scalars)
    json_ = std::make_unique<JsonLinesWriter>((run / "vis_data" / "scalars.json").string());
}

StepResult Trainer::run_step(const Batch& batch) {
  StepResult r;
  auto& opt = *optimizer_.optimizer;
  schedule_.apply(opt, optimizer_.base_lrs(), state_.iter, state_.epoch);
  r.lr = opt.param_groups().front().options().get_lr();
  for (auto& p : params_) p.mutable_grad() = at::Tensor();  // zero_grad(set_to_none=True)

  model_->train();
  // BN running statistics change in forward_train: keep a copy so that a
  // skipped step leaves the model exactly as it was.
  if (saved_buffers_.size() != buffers_.size()) saved_buffers_.assign(buffers_.size(), at::Tensor());
  for (size_t i = 0; i < buffers_.size(); ++i) {
    at::Tensor& s = saved_buffers_[i];
    if (!s.defined() || s.device() != buffers_[i].device() || s.sizes() != buffers_[i].sizes() ||
        s.scalar_type() != buffers_[i].scalar_type())
      s = buffers_[i].detach().clone();
    else
      s.copy_(buffers_[i].detach());
  }
  auto skip_nonfinite = [&](std::vector<std::string> terms) {
    r.skipped = true;
    r.nonfinite = true;
    r.nonfinite_terms = std::move(terms);
    at::NoGradGuard ng;
    for (size_t i = 0; i < buffers_.size(); ++i) buffers_[i].copy_(saved_buffers_[i]);
    for (auto& p : params_) p.mutable_grad() = at::Tensor();
  };

  LossMap losses;
  {
    AutocastGuard ac(options_.device.type(), options_.amp);
    losses = model_->forward_train(batch);
  }
  // mmengine's parse_losses: each entry averaged; entries named *loss* summed.
  at::Tensor total;
  std::vector<std::pair<std::string, at::Tensor>> parts;
  for (const auto& kv : losses) {
    at::Tensor v = kv.second.to(at::kFloat).mean();
    parts.emplace_back(kv.first, v);
    if (kv.first.find("loss") != std::string::npos) total = total.defined() ? total + v : v;
  }
  INSTSEG_CHECK(total.defined(), "trainer: forward_train returned no entry named '*loss*'");

  // The logged values, averaged over ranks before backward: a NaN on any rank
  // reaches every rank, so all of them skip the step together (a rank that
  // skipped alone would leave the others waiting in the gradient all-reduce).
  std::vector<double> vals;
  vals.push_back(total.detach().item<double>());
  for (auto& kv : parts) vals.push_back(kv.second.detach().item<double>());
  if (dist::world_size() > 1) vals = dist::all_reduce_mean(vals);
  r.loss = vals[0];
  r.values.emplace_back("loss", vals[0]);
  for (size_t k = 0; k < parts.size(); ++k) r.values.emplace_back(parts[k].first, vals[k + 1]);
  if (!std::isfinite(vals[0])) {
    std::vector<std::string> terms;
    for (size_t k = 0; k < parts.size(); ++k)
      if (!std::isfinite(vals[k + 1])) terms.push_back(str_cat(parts[k].first, "=", vals[k + 1]));
    if (terms.empty()) terms.push_back(str_cat("loss=", vals[0], " (the sum overflows)"));
    skip_nonfinite(std::move(terms));
    return r;
  }

  scaler_.scale(total).backward();
  if (dist::world_size() > 1) dist::average_gradients(params_);
  const bool found_inf = scaler_.unscale(params_);
  if (options_.clip_max_norm && !found_inf) {
    r.grad_norm = clip_grad_norm(params_, *options_.clip_max_norm);
    if (!std::isfinite(r.grad_norm)) {
      // Without a loss scaler nothing else catches this; stepping would write NaN into every weight.
      skip_nonfinite({str_cat("grad_norm=", r.grad_norm)});
      return r;
    }
  }
  if (!found_inf) {
    opt.step();
  } else {
    r.skipped = true;
    log_warning("trainer: the fp16 loss scaler found non-finite gradients at iteration ", state_.iter + 1,
                ": step skipped, loss scale ", scaler_.get_scale(), " -> ", scaler_.get_scale() * 0.5);
  }
  scaler_.update(found_inf);
  return r;
}

void Trainer::check_nonfinite_streak(const StepResult& r) {
  if (!r.nonfinite) {
    nonfinite_streak_ = 0;
    return;
  }
  ++nonfinite_streak_;
  std::string terms;
  for (const auto& t : r.nonfinite_terms) terms += (terms.empty() ? "" : ", ") + t;
  const int64_t k = options_.max_consecutive_nonfinite;
  log_warning("trainer: non-finite loss at iteration ", state_.iter, " (epoch ", state_.epoch + 1, ", batch ",
              state_.batch_in_epoch, "): ", terms, "; step skipped (", nonfinite_streak_,
              k > 0 ? str_cat(" of at most ", k) : std::string(), " in a row)");
  if (k > 0 && nonfinite_streak_ >= k)
    fail("trainer: the loss was non-finite for ", nonfinite_streak_, " iterations in a row (",
         state_.iter - nonfinite_streak_ + 1, "..", state_.iter, "; last: ", terms,
         "). Training stopped; no checkpoint was written after the last finite step. Lower the learning rate "
         "(optimizer.lr), enable clip_grad, check the data and data_preprocessor.std, or raise "
         "train_cfg.max_consecutive_nonfinite.");
}

bool Trainer::should_stop() const {
  return options_.max_iters >= 0 && state_.iter >= options_.max_iters;
}

std::string Trainer::checkpoint_name(bool by_epoch) const {
  return (fs::path(options_.work_dir) /
          (by_epoch ? "epoch_" + std::to_string(state_.epoch) + ".pth"
                    : "iter_" + std::to_string(state_.iter) + ".pth"))
      .string();
}

void Trainer::log_train(const StepResult& r, double, double) {
  const int64_t bpe = train_->batches_per_epoch();
  const size_t w = static_cast<size_t>(options_.log_interval);
  int64_t total_iters = options_.max_epochs * bpe;
  if (options_.max_iters >= 0) total_iters = std::min(total_iters, options_.max_iters);
  const double avg = iters_timed_ > 0 ? time_sum_ / iters_timed_ : 0.0;
  const double eta = avg * static_cast<double>(std::max<int64_t>(total_iters - state_.iter, 0));

  Scalars line;  // text line order follows mmengine
  line.emplace_back("lr", r.lr);
  Scalars tail;
  tail.emplace_back("time", history_.mean("time", w));
  tail.emplace_back("data_time", history_.mean("data_time", w));
  if (options_.device.is_cuda()) {
    const int64_t mem = cuda_peak_memory_mb_and_reset(options_.device.has_index() ? options_.device.index() : 0);
    if (mem >= 0) tail.emplace_back("memory", static_cast<double>(mem));
  }
  if (r.grad_norm >= 0 || !std::isfinite(r.grad_norm)) tail.emplace_back("grad_norm", history_.mean("grad_norm", w));
  for (const auto& kv : r.values) tail.emplace_back(kv.first, history_.mean(kv.first, w));

  std::string text = format_epoch_line("train", state_.epoch + (state_.batch_in_epoch == 0 ? 0 : 1),
                                       options_.max_epochs,
                                       state_.batch_in_epoch == 0 ? bpe : state_.batch_in_epoch, bpe,
                                       line);
  text += "  eta: " + format_eta(eta);
  for (const auto& kv : tail) text += "  " + kv.first + ": " + format_log_value(kv.first, kv.second);
  log_info(text);

  Scalars scalars = line;
  scalars.insert(scalars.end(), tail.begin(), tail.end());
  if (tb_) {
    tb_->add_scalars(scalars, state_.iter);
    tb_->flush();
  }
  if (json_) {
    Scalars js = scalars;
    js.emplace_back("epoch", static_cast<double>(state_.epoch + (state_.batch_in_epoch == 0 ? 0 : 1)));
    js.emplace_back("iter", static_cast<double>(state_.iter));
    js.emplace_back("step", static_cast<double>(state_.iter));
    json_->write(js);
  }
}

void Trainer::train() {
  INSTSEG_CHECK(train_ != nullptr, "trainer: no training data (set_train_data)");
  setup_outputs();
  model_->to(options_.device);
  dist::broadcast_module(*model_);
  if (!options_.resume.empty()) {
    std::string path = options_.resume;
    if (path == "auto") {
      path = read_last_checkpoint(options_.work_dir);
      if (path.empty()) log_info("resume: no last_checkpoint in ", options_.work_dir, ", starting from scratch");
    }
    if (!path.empty()) load_checkpoint(path);
  }
  for (auto& h : hooks_) h->before_train(*this);
  const int64_t bpe = train_->batches_per_epoch();
  INSTSEG_CHECK(bpe > 0, "trainer: the training source has no batches");
  schedule_.set_epoch_length(bpe);
  int64_t last_saved_iter = -1;
  log_info("trainer: ", bpe, " iterations per epoch, epochs ", state_.epoch + 1, "..",
           options_.max_epochs, (options_.max_iters >= 0 ? ", max_iters " + std::to_string(options_.max_iters) : std::string()));

  while (state_.epoch < options_.max_epochs && !should_stop()) {
    train_->start_epoch(state_.epoch, state_.batch_in_epoch);
    model_->train();
    bool exhausted = false;
    while (state_.batch_in_epoch < bpe && !should_stop()) {
      const double t0 = now_s();
      optional<Batch> b = train_->next();
      if (!b) {
        exhausted = true;
        break;
      }
      Batch db = batch_to_device(*b, options_.device);
      const double t_data = now_s() - t0;
      StepResult r = run_step(db);
      ++state_.iter;
      ++state_.batch_in_epoch;
      check_nonfinite_streak(r);
      const double t_iter = now_s() - t0;
      time_sum_ += t_iter;
      ++iters_timed_;
      history_.update("time", t_iter);
      history_.update("data_time", t_data);
      if (r.grad_norm >= 0) history_.update("grad_norm", r.grad_norm);
      for (const auto& kv : r.values) history_.update(kv.first, kv.second);
      for (auto& h : hooks_) h->after_iter(*this, r);
      if (state_.batch_in_epoch % options_.log_interval == 0 || state_.batch_in_epoch == bpe)
        log_train(r, t_iter, t_data);
      if (options_.checkpoint_interval_iters > 0 && state_.iter % options_.checkpoint_interval_iters == 0) {
        save_checkpoint(checkpoint_name(false));
        last_saved_iter = state_.iter;
      }
    }
    if (exhausted && state_.batch_in_epoch < bpe)
      log_warning("trainer: the training source ended after ", state_.batch_in_epoch, " of ", bpe,
                  " batches in epoch ", state_.epoch + 1);
    if (state_.batch_in_epoch < bpe && !exhausted) break;  // stopped by max_iters mid-epoch
    ++state_.epoch;
    state_.batch_in_epoch = 0;
    for (auto& h : hooks_) h->after_epoch(*this);
    if (options_.checkpoint_interval > 0 &&
        (state_.epoch % options_.checkpoint_interval == 0 || state_.epoch == options_.max_epochs)) {
      save_checkpoint(checkpoint_name(true));
      last_saved_iter = state_.iter;
    }
    if (val_ && evaluator_ && options_.val_interval > 0 && state_.epoch >= options_.val_begin &&
        (state_.epoch % options_.val_interval == 0 || state_.epoch == options_.max_epochs))
      evaluate();
  }
  // Stopped by max_iters: leave a checkpoint to continue from.
  const bool checkpointing = options_.checkpoint_interval > 0 || options_.checkpoint_interval_iters > 0;
  if (checkpointing && last_saved_iter != state_.iter && state_.iter > 0)
    save_checkpoint(checkpoint_name(false));
  for (auto& h : hooks_) h->after_train(*this);
  if (tb_) tb_->flush();
}

Metrics Trainer::evaluate() {
  if (!val_ || !evaluator_) return {};
  EvaluationLoopOptions lo;
  lo.progress_bar = options_.progress_bar;
  lo.title = "val";
  const EvaluationRun run = run_evaluation(*model_, options_.device, *val_, *evaluator_, lo);
  const Metrics& metrics = run.metrics;
  const int64_t done = run.batches, n = run.expected_batches;
  const double data_time = run.data_time, elapsed = run.seconds;
  if (dist::is_main()) {
    // mmengine's order: the evaluator's metrics as produced, then data_time, time.
    Scalars vals(metrics.begin(), metrics.end());
    Scalars line = vals;
    line.emplace_back("data_time", done ? data_time / done : 0.0);
    line.emplace_back("time", done ? elapsed / done : 0.0);
    log_info(format_epoch_line("val", state_.epoch, options_.max_epochs, done, std::max<int64_t>(n, done), line));
    if (tb_) {
      tb_->add_scalars(vals, state_.epoch);
      tb_->flush();
    }
    if (json_) {
      Scalars js = line;
      js.emplace_back("step", static_cast<double>(state_.epoch));
      json_->write(js);
    }
  }
  last_metrics_ = metrics;
  model_->train();
  for (auto& h : hooks_) h->after_val(*this, metrics);
  return metrics;
}

void Trainer::load_checkpoint(const std::string& path) {
  state_ = load_training_checkpoint(path, *model_, optimizer_, &scaler_, /*strict=*/true);
  if (state_.world_size != dist::world_size())
    log_warning("resume: the checkpoint was written with world size ", state_.world_size, ", now ",
                dist::world_size(), " (the data order changes)");
  state_.world_size = dist::world_size();
  state_.seed = options_.seed;
  log_info("resumed from ", path, ": epoch ", state_.epoch, ", iteration ", state_.iter,
           (state_.batch_in_epoch ? ", batch " + std::to_string(state_.batch_in_epoch) + " of the epoch" : std::string()));
}

void Trainer::save_checkpoint(const std::string& path) {
  if (!dist::is_main()) return;
  {
    // Never write weights that cannot be used: a non-finite checkpoint would
    // become last_checkpoint and poison --resume.
    std::vector<std::string> bad;
    size_t n = 0;
    for (const auto& kv : module_state_dict(*model_)) {
      ++n;
      const at::Tensor& t = kv.second;
      if (t.is_floating_point() && !at::isfinite(t.detach()).all().item<bool>()) bad.push_back(kv.first);
    }
    if (!bad.empty()) {
      std::string names;
      for (size_t i = 0; i < bad.size() && i < 5; ++i) names += (i ? ", " : "") + bad[i];
      const std::string last = read_last_checkpoint(options_.work_dir);
      fail("trainer: refusing to save ", path, ": ", bad.size(), " of ", n, " model tensors contain non-finite values (",
           names, bad.size() > 5 ? ", ..." : "", "); the last checkpoint ",
           last.empty() ? std::string("(none)") : last, " is kept");
    }
  }
  fs::create_directories(fs::path(path).parent_path().empty() ? "." : fs::path(path).parent_path());
  std::vector<std::pair<std::string, PyValue>> extra_meta;
  if (!options_.dataset_classes.empty()) {
    // mmengine's Runner: meta.dataset_meta = train_dataloader.dataset.metainfo
    // (classes a tuple of str, palette a list of (r, g, b) tuples).
    PyValue::Items classes, palette;
    for (const auto& c : options_.dataset_classes) classes.push_back(PyValue::str(c));
    for (const auto& rgb : options_.dataset_palette)
      palette.push_back(PyValue::tuple({PyValue::from_int(rgb[0]), PyValue::from_int(rgb[1]), PyValue::from_int(rgb[2])}));
    PyValue dm = PyValue::dict();
    dm.dict_set(PyValue::str("classes"), PyValue::tuple(std::move(classes)));
    if (!options_.dataset_palette.empty()) dm.dict_set(PyValue::str("palette"), PyValue::list(std::move(palette)));
    extra_meta.emplace_back("dataset_meta", std::move(dm));
  }
  save_training_checkpoint(path, *model_, optimizer_, state_, &scaler_, extra_meta);
  write_last_checkpoint(options_.work_dir, path);
  if (options_.max_keep_ckpts > 0) prune_checkpoints(options_.work_dir, options_.max_keep_ckpts, path);
  log_info("Saved checkpoint at epoch ", state_.epoch, ", iteration ", state_.iter, ": ", path);
}

}  // namespace instseg
