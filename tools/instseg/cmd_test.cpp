// `instseg test CONFIG CKPT [--out results.json] [--show-dir DIR] [--cfg-options k=v ...]
// [--batch-size N] [--device D]`: mmdetection's tools/test.py. Runs the model over
// test_dataloader's dataset (test pipeline, the model's normalisation and
// padding), writes the COCO results list and overlays when asked, and prints
// test_evaluator's COCO metrics (pycocotools' 12-line summaries and mmdet's
// "<type>_mAP_copypaste:" lines).
#include "commands.h"
#include "infer_util.h"

#include "instseg/config/build_data.h"
#include "instseg/core/log.h"
#include "instseg/core/output_path.h"
#include "instseg/core/progress.h"
#include "instseg/io/coco_eval_io.h"
#include "instseg/io/image.h"
#include "instseg/io/loader.h"
#include "instseg/io/results_json.h"
#include "instseg/io/visualize.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>

namespace instseg::cli {
namespace {

struct TestArgs {
  std::string config, checkpoint, out, show_dir, device = "auto";
  std::vector<std::string> cfg_options;
  int64_t batch_size = 0;  // 0: the config's
  double show_score_thr = 0.3;
};

// mmdet's CocoMetric.results2json with outfile_prefix: <prefix>.bbox.json
// (boxes only) and, for segm, <prefix>.segm.json (boxes and masks).
void write_prefixed_results(const std::string& prefix, const std::vector<CocoResult>& results, bool segm) {
  std::vector<CocoResult> boxes_only = results;
  for (auto& r : boxes_only) r.segmentation = CocoSegmentation{};
  save_results_json(prefix + ".bbox.json", boxes_only);
  log_info("test: wrote ", prefix, ".bbox.json");
  if (segm) {
    save_results_json(prefix + ".segm.json", results);
    log_info("test: wrote ", prefix, ".segm.json");
  }
}

void run_test(const TestArgs& a) {
  check_output_file(a.out, "--out");  // before the model runs, not after the whole dataset
  check_output_dir(a.show_dir, "--show-dir");
  InferenceModel m = load_inference_model(a.config, a.checkpoint, a.cfg_options, a.device);

  DataloaderSpec dl = dataloader_spec_from(m.cfg, "test_dataloader");
  if (a.batch_size > 0) dl.batch_size = a.batch_size;
  EvaluatorSpec ev = evaluator_spec_from(m.cfg, "test_evaluator");
  if (!ev.outfile_prefix.empty()) check_output_file(ev.outfile_prefix + ".bbox.json", "test_evaluator.outfile_prefix");
  CocoDatasetOptions dopt = dl.dataset.coco;
  dopt.test_mode = true;  // every image, in file order
  dopt.with_gt = false;   // GT comes from the evaluator's ann_file
  dopt.with_mask = false;
  auto dataset = std::make_shared<const CocoDataset>(dopt);
  const std::string gt_file = ev.ann_file.empty() ? dopt.ann_file : ev.ann_file;
  log_info("test: ", dataset->size(), " images from ", dopt.ann_file, " (images in ", dopt.img_dir, "), ",
           dataset->num_classes(), " classes");

  LoaderOptions lo = dl.loader_options(m.collate);
  lo.shuffle = false;
  lo.aspect_ratio_grouping = false;
  lo.drop_last = false;
  lo.collate.with_gt = false;
  lo.collate.with_mask = false;
  DataLoader loader(dataset, lo);
  loader.set_epoch(0);

  VisualizeOptions vo;
  vo.class_names = dataset->class_names();
  vo.palette = dl.dataset.palette;
  vo.score_thr = a.show_score_thr;

  std::vector<CocoResult> results;
  const std::vector<int64_t>& label_to_cat = dataset->category_ids();
  const auto t0 = std::chrono::steady_clock::now();
  ProgressBar bar(dataset->size(), "test");
  while (auto batch = loader.next()) {
    batch->images = batch->images.to(m.device);
    std::vector<Instances> dets;
    {
      torch::NoGradGuard no_grad;
      dets = m.model->predict(*batch);
    }
    INSTSEG_CHECK(dets.size() == static_cast<size_t>(batch->size()), "predict returned ", dets.size(),
                  " results for ", batch->size(), " images");
    for (size_t i = 0; i < dets.size(); ++i) {
      Instances& d = dets[i];
      for (at::Tensor* t : {&d.labels, &d.scores, &d.bboxes, &d.masks})
        if (t->defined()) *t = t->to(at::kCPU);
      d.image_id = batch->metas[i].image_id;
      append_results(d, label_to_cat, /*bbox_from_mask=*/false, &results);
      if (!a.show_dir.empty()) {
        const std::string& file = batch->metas[i].file;
        save_png_rgb((std::filesystem::path(a.show_dir) / (file_stem(file) + ".png")).string(),
                     draw_instances(read_image_rgb(file), d, vo));
      }
    }
    bar.update(batch->size());
  }
  bar.finish();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log_info("test: ", results.size(), " detections on ", dataset->size(), " images in ", secs, " s");

  const bool want_segm =
      std::find(ev.metrics.begin(), ev.metrics.end(), eval::IouType::segm) != ev.metrics.end();
  if (!a.out.empty()) {
    save_results_json(a.out, results);
    log_info("test: wrote ", results.size(), " results to ", a.out);
  }
  if (!ev.outfile_prefix.empty()) write_prefixed_results(ev.outfile_prefix, results, want_segm);
  if (ev.format_only) {
    log_info("test: format_only: results written, no evaluation");
    return;
  }
  if (results.empty()) log_warning("test: the model produced no detections: every AP is 0");

  const CocoFile gt = load_coco_json(gt_file);
  const std::string res_name = a.out.empty() ? "<test results>" : a.out;
  for (const eval::IouType type : ev.metrics) {
    LoadResOptions opt;
    // mmdet's CocoMetric drops the boxes before segm evaluation, so the
    // area ranges use mask areas.
    opt.ignore_bbox = type == eval::IouType::segm;
    // CocoMetric's maxDets = proposal_nums (100, 300, 1000).
    const auto reports = evaluate_coco(gt, results, res_name, {type}, opt, ev.classwise, global_options().threads,
                                       mmdet_proposal_nums());
    const CocoEvalReport& r = reports.front();
    std::cout << "Evaluating " << eval::iou_type_name(type) << "...\n" << r.summary;
    if (ev.classwise) std::cout << r.category_table;
    std::cout << r.copypaste << "\n" << std::flush;
  }
}

}  // namespace

void add_test_command(CLI::App& app) {
  auto a = std::make_shared<TestArgs>();
  auto* cmd = app.add_subcommand(
      "test", "Evaluate a checkpoint on the config's test_dataloader with test_evaluator's COCO metrics");
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
  cmd->add_option("--cfg-options", a->cfg_options,
                  "override config keys: test_dataloader.dataset.data_root=data/coco/ model.test_cfg.score_thr=0.05")
      ->expected(0, -1);
  cmd->footer(
      "Relative data_root / ann_file / data_prefix paths are relative to the current directory (as in mmdet).\n"
      "Example:\n  instseg test configs/solov2_r50_fpn_1x_coco.yaml solov2.pth --out results.json --show-dir vis");
  cmd->callback([a]() { run_test(*a); });
}

}  // namespace instseg::cli
