// `instseg test CONFIG CKPT [--out results.json] [--show-dir DIR] [--cfg-options k=v ...]
// [--batch-size N] [--device D]`: mmdetection's tools/test.py. Runs the model over
// test_dataloader's dataset (test pipeline, the model's normalisation and
// padding), writes the COCO results list and overlays when asked, and prints
// test_evaluator's COCO metrics (pycocotools' 12-line summaries and mmdet's
// "<type>_mAP_copypaste:" lines). The work is the library's: the inference
// model (inference/inference_model.h), the dataset + loader + CocoMetric the
// trainer's validation also builds (config/build_evaluation.h) and the
// evaluation loop it runs (engine/evaluate.h); this file parses and prints.
#include "commands.h"

#include "instseg/config/build_data.h"
#include "instseg/config/build_evaluation.h"
#include "instseg/config/build_model.h"
#include "instseg/config/overrides.h"
#include "instseg/core/check.h"
#include "instseg/core/device.h"
#include "instseg/core/log.h"
#include "instseg/core/output_path.h"
#include "instseg/engine/evaluate.h"
#include "instseg/inference/inference_model.h"
#include "instseg/io/image.h"
#include "instseg/io/results_json.h"
#include "instseg/io/visualize.h"

#include <filesystem>
#include <iostream>
#include <memory>

namespace instseg::cli {
namespace {

struct TestArgs {
  std::string config, checkpoint, out, show_dir, device = "auto", dtype = "fp32";
  std::vector<std::string> cfg_options;
  int64_t batch_size = 0;  // 0: the config's
  double show_score_thr = 0.3;
  bool exact = false;
};

void run_test(const TestArgs& a) {
  // Output paths are checked before the model runs, not after the whole dataset.
  check_output_file(a.out, "--out");
  check_output_dir(a.show_dir, "--show-dir");
  const ConfigNode cfg = load_config_with_overrides(a.config, a.cfg_options);
  const ModelSpec spec = model_spec_from(cfg);
  const DataloaderSpec dl = dataloader_spec_from(cfg, "test_dataloader");
  const EvaluatorSpec ev = evaluator_spec_from(cfg, "test_evaluator");
  if (!ev.outfile_prefix.empty()) check_output_file(ev.outfile_prefix + ".bbox.json", "test_evaluator.outfile_prefix");
  const c10::Device device = parse_device(a.device);
  const AmpDtype amp = parse_amp_dtype(a.dtype);
  if (amp == AmpDtype::fp16 && !device.is_cuda()) fail("test: --dtype fp16 needs a CUDA device; on the CPU use bf16");
  InferenceModel m = load_inference_model(spec, a.checkpoint, device, a.config,
                                          a.exact ? InferenceGraphOptions::exact() : InferenceGraphOptions{});

  EvaluationSetOptions so;
  so.batch_size = a.batch_size;
  so.threads = global_options().threads;
  so.log_report = false;  // printed below, on stdout
  so.results_name = a.out.empty() ? "<test results>" : a.out;
  const EvaluationSet set = build_evaluation_set(dl, ev, collate_options_from(spec.preprocess), so);
  log_info("test: ", set.dataset->size(), " images from ", dl.dataset.coco.ann_file, " (images in ",
           dl.dataset.coco.img_dir, "), ", set.dataset->num_classes(), " classes");
  CocoMetricEvaluator& evaluator = *set.evaluator;

  EvaluationLoopOptions lopt;
  lopt.title = "test";
  lopt.amp = amp;
  VisualizeOptions vo;
  vo.class_names = set.dataset->class_names();
  vo.palette = dl.dataset.palette;
  vo.score_thr = a.show_score_thr;
  if (!a.show_dir.empty())
    lopt.on_batch = [&](const Batch& batch, const std::vector<Instances>& dets) {
      for (size_t i = 0; i < dets.size(); ++i) {
        const std::string& file = batch.metas[i].file;
        const std::string png = (std::filesystem::path(a.show_dir) / std::filesystem::path(file).stem()).string();
        save_png_rgb(png + ".png", draw_instances(read_image_rgb(file), dets[i], vo));
      }
    };
  const EvaluationRun run = run_evaluation(*m.model, m.device, *set.source, evaluator, lopt);
  log_info("test: ", set.dataset->size(), " images in ", run.seconds, " s");

  if (!a.out.empty()) {
    const std::vector<CocoResult> results = evaluator.results();
    save_results_json(a.out, results);
    log_info("test: wrote ", results.size(), " results to ", a.out);
  }
  std::cout << evaluator.last_report() << std::flush;
}

}  // namespace

void add_test_command(CLI::App& app) {
  auto a = std::make_shared<TestArgs>();
  auto* cmd = app.add_subcommand("test", command_info("test").description);
  cmd->add_option("config", a->config, "config file (.yaml / .json; mmdetection schema)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("checkpoint", a->checkpoint, "weights (.pth, mmdetection or instseg)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", a->out, "write the COCO results list (bbox + segmentation per detection) here");
  cmd->add_option("--show-dir", a->show_dir, "write an overlay PNG per image into this directory");
  cmd->add_option("--show-score-thr", a->show_score_thr, "overlays: draw instances with at least this score")
      ->capture_default_str();
  cmd->add_option("--batch-size", a->batch_size, "images per batch (default: test_dataloader.batch_size)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_flag("--exact", a->exact,
                "mmdetection's numerics bit for bit: no BatchNorm folding, no channels-last (slower on CPU)");
  cmd->add_option("--dtype", a->dtype,
                  "fp32, or autocast to bf16 (CPU with native bf16, CUDA) / fp16 (CUDA); the stem, the neck's "
                  "outputs and the post-processing stay fp32")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}))
      ->capture_default_str();
  cmd->add_option("--cfg-options", a->cfg_options,
                  "override config keys: test_dataloader.dataset.data_root=data/coco/ model.test_cfg.score_thr=0.05")
      ->expected(0, -1);
  cmd->footer(
      "Relative data_root / ann_file / data_prefix paths are relative to the current directory (as in mmdet).\n"
      "Example:\n  instseg test configs/solov2_r50_fpn_1x_coco.yaml solov2.pth --out results.json --show-dir vis");
  cmd->callback([a]() { run_test(*a); });
}

}  // namespace instseg::cli
