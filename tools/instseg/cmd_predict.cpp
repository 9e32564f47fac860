// `instseg predict CONFIG CKPT INPUT... [--out-dir DIR] [--score-thr T]`:
// mmdetection's image demo for many images. INPUT is an image file, a
// directory (its .jpg/.jpeg/.png/.bmp files, sorted, not recursive) or a glob
// pattern (glob(3); quote it so the shell does not expand it). Each image goes
// through the config's test pipeline (keep-ratio Resize to the test scale) and
// the model's normalisation and padding, one image per batch: the library's
// Predictor (api/predictor.h) does the work, this file parses and writes. Writes
// <out-dir>/<stem>.png overlays, <out-dir>/results.json (COCO results, image_id
// = the image's index in the input order, or its id in --ann GT.json) and
// <out-dir>/images.json (the id -> file table, as a COCO "images" list).
//
// Both JSON files are complete after every image (io/json_array_file.h): a
// run that is killed keeps the images it finished. An image that cannot be
// read or transformed is skipped with a warning and listed in images.json
// with its "error" (--skip-bad-images, the default when an input is a
// directory); otherwise it stops the run. The out-dir is locked for the run
// (engine/work_dir_lock.h): a second predict into it refuses to start.
#include "commands.h"

#include "instseg/api/predictor.h"
#include "instseg/core/log.h"
#include "instseg/core/output_path.h"
#include "instseg/core/progress.h"
#include "instseg/engine/work_dir_lock.h"
#include "instseg/io/coco_json.h"
#include "instseg/io/image_ids.h"
#include "instseg/io/json_array_file.h"
#include "instseg/io/results_json.h"
#include "instseg/io/visualize.h"

#include <opencv2/imgproc.hpp>

#include <glob.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>

namespace instseg::cli {
namespace fs = std::filesystem;
namespace {

struct PredictArgs {
  std::string config, checkpoint, out_dir = "outputs", device = "auto", ann;
  std::vector<std::string> inputs, cfg_options;
  double score_thr = 0.3;  // mmdet's demo default
  bool no_overlays = false;
  bool skip_bad = false, no_skip_bad = false;  // neither: skip when an input is a directory
};

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

// Files, directories and glob patterns -> image files, in argument order.
std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      std::vector<std::string> found;
      for (const auto& e : fs::directory_iterator(in))
        if (e.is_regular_file() && is_image_file(e.path())) found.push_back(e.path().string());
      std::sort(found.begin(), found.end());
      if (found.empty()) log_warning("predict: ", in, ": no .jpg/.jpeg/.png/.bmp files in this directory");
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(in, ec)) {
      files.push_back(in);
    } else if (in.find_first_of("*?[") != std::string::npos) {
      glob_t g{};
      const int rc = ::glob(in.c_str(), 0, nullptr, &g);  // sorted by glob
      if (rc == GLOB_NOMATCH) {
        globfree(&g);
        fail("predict: ", in, ": no file matches this pattern");
      }
      if (rc != 0) {
        globfree(&g);
        fail("predict: ", in, ": glob failed (code ", rc, ")");
      }
      for (size_t i = 0; i < g.gl_pathc; ++i)
        if (fs::is_regular_file(g.gl_pathv[i], ec)) files.push_back(g.gl_pathv[i]);
      globfree(&g);
    } else {
      fail("predict: ", in, ": no such file or directory");
    }
  }
  if (files.empty()) fail("predict: no input images");
  return files;
}

void run_predict(const PredictArgs& a) {
  const std::vector<std::string> files = expand_inputs(a.inputs);
  bool skip_bad = a.skip_bad;
  if (!a.skip_bad && !a.no_skip_bad) {
    std::error_code ec;
    for (const auto& in : a.inputs) skip_bad = skip_bad || fs::is_directory(in, ec);
  }
  std::vector<int64_t> ids(files.size());
  for (size_t i = 0; i < files.size(); ++i) ids[i] = static_cast<int64_t>(i);
  if (!a.ann.empty()) ids = image_ids_for_files(load_coco_json(a.ann), files);
  // Before the model runs: the directory must be writable and not in use by another predict.
  check_output_dir(a.out_dir, "--out-dir");
  const std::shared_ptr<WorkDirLock> lock = WorkDirLock::acquire(a.out_dir, "--out-dir");
  PredictorOptions po;
  po.device = a.device;
  po.score_thr = a.score_thr;
  po.cfg_options = a.cfg_options;
  po.ann_file = a.ann;  // its category ids too (empty: the config's test ann_file)
  Predictor predictor(a.config, a.checkpoint, po);
  const std::vector<int64_t>& label_to_cat = predictor.category_ids();

  // Streamed: each image's results are on disk (valid JSON) once it is done,
  // and memory does not grow with the number of images.
  JsonArrayFile results_file((fs::path(a.out_dir) / "results.json").string());
  JsonArrayFile images_file((fs::path(a.out_dir) / "images.json").string());
  std::set<std::string> used_names;
  size_t n_instances = 0;
  std::vector<std::string> skipped;
  ProgressBar bar(static_cast<int64_t>(files.size()), "predict");
  for (size_t idx = 0; idx < files.size(); ++idx) {
    const std::string& file = files[idx];
    nlohmann::ordered_json entry = {{"id", ids[idx]}, {"file_name", file}};
    cv::Mat bgr;
    Batch batch;
    try {
      bgr = Predictor::read_image(file);
      batch = predictor.preprocess({bgr}, {ids[idx]});
    } catch (const Error& e) {
      if (!skip_bad) throw;
      log_warning("predict: skipping ", file, ": ", e.what());
      skipped.push_back(file);
      entry["error"] = e.what();
      images_file.append(entry.dump());
      images_file.commit();
      bar.update();
      continue;
    }
    const Prediction r = predictor.postprocess(predictor.forward(batch), batch).front();
    std::vector<CocoResult> results;
    append_results(to_instances(r), label_to_cat, /*bbox_from_mask=*/false, &results);
    for (const CocoResult& res : results) results_file.append(result_json(res));
    n_instances += results.size();

    // <stem>.png, or <stem>_<index>.png when two inputs share a stem.
    std::string name = fs::path(file).stem().string();
    if (!used_names.insert(name).second) {
      name += "_" + std::to_string(idx);
      used_names.insert(name);
    }
    if (!a.no_overlays) {
      cv::Mat rgb;
      cv::cvtColor(predictor.draw(bgr, r), rgb, cv::COLOR_BGR2RGB);
      save_png_rgb((fs::path(a.out_dir) / (name + ".png")).string(), rgb);
    }
    entry["height"] = r.height;
    entry["width"] = r.width;
    entry["overlay"] = a.no_overlays ? std::string() : name + ".png";
    entry["num_instances"] = r.size();
    images_file.append(entry.dump());
    results_file.commit();
    images_file.commit();
    log_info("predict: ", file, ": ", r.size(), " instances with score >= ", a.score_thr);
    bar.update();
  }
  bar.finish();

  if (!skipped.empty())
    log_warning("predict: ", skipped.size(), " of ", files.size(), " images could not be read and were skipped (",
                skipped.front(), skipped.size() > 1 ? ", ..." : "", "); images.json lists them with the error");
  std::cout << "predict: " << files.size() - skipped.size() << " images, " << n_instances << " instances"
            << (skipped.empty() ? std::string() : ", " + std::to_string(skipped.size()) + " skipped") << "; wrote "
            << results_file.path() << ", " << images_file.path() << (a.no_overlays ? "" : " and the overlays")
            << " in " << a.out_dir << "\n"
            << std::flush;
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto a = std::make_shared<PredictArgs>();
  auto* cmd = app.add_subcommand("predict", "Run a checkpoint on images: overlay PNGs and a COCO results JSON");
  cmd->add_option("config", a->config, "config file (.yaml / .json; mmdetection schema)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("checkpoint", a->checkpoint, "weights (.pth, mmdetection or instseg)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("inputs", a->inputs, "image files, directories or quoted glob patterns ('imgs/*.jpg')")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--out-dir", a->out_dir, "output directory")->capture_default_str();
  cmd->add_option("--score-thr", a->score_thr, "drop instances scoring below this (mmdet demo default)")
      ->capture_default_str();
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_flag("--no-overlays", a->no_overlays, "write results.json only");
  cmd->add_option("--ann", a->ann,
                  "COCO annotation file the inputs belong to: results use its image ids (matched by file_name) "
                  "and category ids, so that `instseg eval --ann` can score them")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--skip-bad-images", a->skip_bad,
                "skip unreadable images with a warning (default when an input is a directory)");
  cmd->add_flag("--no-skip-bad-images", a->no_skip_bad, "stop at the first unreadable image");
  cmd->add_option("--cfg-options", a->cfg_options, "override config keys: model.test_cfg.score_thr=0.05 ...")
      ->expected(0, -1);
  cmd->footer("Example:\n  instseg predict configs/solov2_r50_fpn_1x_coco.yaml solov2.pth demo/ 'more/*.jpg' "
              "--out-dir vis --score-thr 0.5");
  cmd->callback([a]() { run_predict(*a); });
}

}  // namespace instseg::cli
