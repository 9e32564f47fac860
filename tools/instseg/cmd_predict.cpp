// `instseg predict CONFIG CKPT INPUT... [--out-dir DIR] [--score-thr T] [--batch-size N] [--save-pred]
// [--save-masks rle|png] [--draw-boxes] [--no-labels] [--ann GT.json]`: mmdetection's image, video and
// webcam demos. INPUT is an image file, a directory (its .jpg/.jpeg/.png/.bmp
// files, sorted, not recursive), a glob pattern (glob(3); quote it so the
// shell does not expand it), a video file (.mp4, .avi, ...) or a camera index
// (0). Each image or frame goes through the config's test pipeline (keep-ratio
// Resize to the test scale) and the model's normalisation and padding,
// --batch-size at a time: the library's Predictor (api/predictor.h, videos
// through api/video.h) does the work, this file parses and writes. Writes
// <out-dir>/<stem>.png overlays (<stem>.avi for a video, with the frames/s in
// the log), <out-dir>/results.json (COCO results, image_id = the index in the
// input order, a video taking one id per frame, or the image's id in --ann
// GT.json), <out-dir>/images.json (the id -> file table, as a COCO "images"
// list; "frame" for video frames) and on request per-image files
// (api/prediction_files.h: preds/<name>.json, masks/<name>_<k>.png).
//
// Both JSON files are complete after every image (io/json_array_file.h): a
// run that is killed keeps the images it finished. An image that cannot be
// read or transformed is skipped with a warning and listed in images.json
// with its "error" (--skip-bad-images, the default when an input is a
// directory); otherwise it stops the run. The out-dir is locked for the run
// (engine/work_dir_lock.h): a second predict into it refuses to start.
#include "commands.h"

#include "instseg/io/image.h"

#include "instseg/api/prediction_files.h"
#include "instseg/api/predictor.h"
#include "instseg/api/video.h"
#include "instseg/core/atomic_file.h"
#include "instseg/core/log.h"
#include "instseg/core/output_path.h"
#include "instseg/core/progress.h"
#include "instseg/engine/work_dir_lock.h"
#include "instseg/io/coco_json.h"
#include "instseg/io/image_ids.h"
#include "instseg/io/json_array_file.h"
#include "instseg/io/instances_to_results.h"
#include "instseg/io/results_json.h"
#include "instseg/io/visualize.h"

#include <opencv2/imgproc.hpp>

#include <glob.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>

namespace instseg::cli {
namespace fs = std::filesystem;
namespace {

struct PredictArgs {
  std::string config, checkpoint, out_dir = "outputs", device = "auto", ann, save_masks, dtype = "fp32";
  std::vector<std::string> inputs, cfg_options;
  double score_thr = 0.3;  // mmdet's demo default
  int64_t batch_size = 1;
  int64_t max_frames = -1;
  bool no_overlays = false, save_pred = false, draw_boxes = false, no_labels = false;
  bool exact = false;
  bool skip_bad = false, no_skip_bad = false;  // neither: skip when an input is a directory
};

// One thing to segment: an image file, or a video file / camera index.
struct InputItem {
  std::string path;
  bool video = false;
};

// Files, directories and glob patterns -> image files, in argument order;
// video files and camera indices stay one item each.
std::vector<InputItem> expand_inputs(const std::vector<std::string>& inputs) {
  std::vector<InputItem> items;
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (is_camera_index(in) && !fs::exists(in, ec)) {
      items.push_back({in, true});
    } else if (fs::is_directory(in, ec)) {
      const std::vector<std::string> found = image_files_in(in);
      if (found.empty()) log_warning("predict: ", in, ": no .jpg/.jpeg/.png/.bmp files in this directory");
      for (const auto& f : found) items.push_back({f, false});
    } else if (fs::is_regular_file(in, ec)) {
      items.push_back({in, is_video_file(in)});
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
        if (fs::is_regular_file(g.gl_pathv[i], ec)) items.push_back({g.gl_pathv[i], is_video_file(g.gl_pathv[i])});
      globfree(&g);
    } else {
      fail("predict: ", in, ": no such file or directory");
    }
  }
  if (items.empty()) fail("predict: no input images");
  return items;
}

// Writes results.json / images.json and the per-image files of one image or
// video frame.
class PredictOutputs {
 public:
  PredictOutputs(const PredictArgs& a, const Predictor& predictor)
      : a_(a),
        predictor_(predictor),
        masks_(a.save_masks.empty() ? MaskFormat::none : parse_mask_format(a.save_masks)),
        results_((fs::path(a.out_dir) / "results.json").string()),
        images_((fs::path(a.out_dir) / "images.json").string()) {
    draw_.draw_boxes = a.draw_boxes;
    draw_.draw_labels = !a.no_labels;
  }

  const VisualizeOptions& draw_options() const { return draw_; }
  bool per_image_json() const { return a_.save_pred || masks_ != MaskFormat::none; }

  // A name for this input's files: <stem>, or <stem>_<index> when taken.
  std::string unique_name(const std::string& stem, size_t index) {
    std::string name = stem;
    if (!used_names_.insert(name).second) {
      name += "_" + std::to_string(index);
      used_names_.insert(name);
    }
    return name;
  }

  // `entry` (id, file_name, ...) gets the image's size, overlay and counts.
  void write(const Prediction& r, const cv::Mat* bgr, const std::string& name, nlohmann::ordered_json entry) {
    std::vector<CocoResult> results;
    append_results(to_instances(r), predictor_.category_ids(), /*bbox_from_mask=*/false, &results);
    for (const CocoResult& res : results) results_.append(result_json(res));
    n_instances_ += results.size();
    if (bgr && !a_.no_overlays) {
      cv::Mat rgb;
      cv::cvtColor(predictor_.draw(*bgr, r, draw_), rgb, cv::COLOR_BGR2RGB);
      save_png_rgb((fs::path(a_.out_dir) / (name + ".png")).string(), rgb);
      entry["overlay"] = name + ".png";
    }
    entry["height"] = r.height;
    entry["width"] = r.width;
    entry["num_instances"] = r.size();
    if (per_image_json()) {
      std::vector<std::string> pngs;
      if (masks_ == MaskFormat::png) {
        pngs = save_mask_pngs(r, (fs::path(a_.out_dir) / "masks").string(), name);
        for (auto& f : pngs) f = "masks/" + f;
      }
      const std::string pred = (fs::path(a_.out_dir) / "preds" / (name + ".json")).string();
      fs::create_directories(fs::path(pred).parent_path());
      write_file_atomically(pred, prediction_to_json(r, masks_, pngs).dump() + "\n");
      entry["pred"] = "preds/" + name + ".json";
    }
    images_.append(entry.dump());
    results_.commit();
    images_.commit();
  }

  void write_error(nlohmann::ordered_json entry) {
    images_.append(entry.dump());
    images_.commit();
  }

  size_t num_instances() const { return n_instances_; }
  const std::string& results_path() const { return results_.path(); }
  const std::string& images_path() const { return images_.path(); }

 private:
  const PredictArgs& a_;
  const Predictor& predictor_;
  MaskFormat masks_;
  VisualizeOptions draw_;
  // Streamed: each image's results are on disk (valid JSON) once it is done,
  // and memory does not grow with the number of images.
  JsonArrayFile results_, images_;
  std::set<std::string> used_names_;
  size_t n_instances_ = 0;
};

void run_predict(const PredictArgs& a) {
  const std::vector<InputItem> items = expand_inputs(a.inputs);
  if (a.batch_size < 1) fail("predict: --batch-size must be >= 1, got ", a.batch_size);
  bool skip_bad = a.skip_bad;
  if (!a.skip_bad && !a.no_skip_bad) {
    std::error_code ec;
    for (const auto& in : a.inputs) skip_bad = skip_bad || fs::is_directory(in, ec);
  }
  std::vector<std::string> image_files;
  for (const auto& it : items)
    if (!it.video) image_files.push_back(it.path);
  // Image ids: the input order (video frames take one id each), or --ann's ids.
  std::vector<int64_t> ann_ids;
  if (!a.ann.empty()) {
    for (const auto& it : items)
      if (it.video) fail("predict: --ann applies to image files; ", it.path, " is a video");
    ann_ids = image_ids_for_files(load_coco_json(a.ann), image_files);
  }
  // Before the model runs: the directory must be writable and not in use by another predict.
  check_output_dir(a.out_dir, "--out-dir");
  const std::shared_ptr<WorkDirLock> lock = WorkDirLock::acquire(a.out_dir, "--out-dir");
  PredictorOptions po;
  po.device = a.device;
  po.exact = a.exact;
  po.dtype = a.dtype;
  po.score_thr = a.score_thr;
  po.cfg_options = a.cfg_options;
  po.batch_size = a.batch_size;
  po.rle = a.save_masks == "rle";
  po.ann_file = a.ann;  // its category ids too (empty: the config's test ann_file)
  Predictor predictor(a.config, a.checkpoint, po);
  PredictOutputs out(a, predictor);

  std::vector<std::string> skipped;
  int64_t next_id = 0;
  size_t n_images = 0, n_frames = 0, image_index = 0;
  ProgressBar bar(static_cast<int64_t>(image_files.size()), "predict");

  // Images in batches of --batch-size (consecutive image inputs).
  struct Pending {
    std::string file, name;
    int64_t id;
    cv::Mat bgr;
  };
  std::vector<Pending> pending;
  auto skip = [&](const std::string& file, int64_t id, const std::string& why) {
    log_warning("predict: skipping ", file, ": ", why);
    skipped.push_back(file);
    out.write_error({{"id", id}, {"file_name", file}, {"error", why}});
    bar.update();
  };
  auto flush = [&]() {
    if (pending.empty()) return;
    std::vector<cv::Mat> mats;
    std::vector<int64_t> ids;
    for (const auto& p : pending) mats.push_back(p.bgr), ids.push_back(p.id);
    Batch batch;
    bool batched = true;
    try {
      batch = predictor.preprocess(mats, ids);
    } catch (const Error&) {
      if (!skip_bad && pending.size() == 1) throw;
      batched = false;
    }
    std::vector<Prediction> preds;
    if (batched) {
      preds = predictor.postprocess(predictor.forward(batch), batch);
    } else {
      // One of them fails the test pipeline: each on its own, to name it.
      std::vector<Pending> ok;
      for (auto& p : pending) {
        try {
          Batch one = predictor.preprocess({p.bgr}, {p.id});
          preds.push_back(predictor.postprocess(predictor.forward(one), one).front());
          ok.push_back(std::move(p));
        } catch (const Error& e) {
          if (!skip_bad) throw;
          skip(p.file, p.id, e.what());
        }
      }
      pending = std::move(ok);
    }
    for (size_t i = 0; i < pending.size(); ++i) {
      out.write(preds[i], &pending[i].bgr, pending[i].name, {{"id", pending[i].id}, {"file_name", pending[i].file}});
      log_info("predict: ", pending[i].file, ": ", preds[i].size(), " instances with score >= ", a.score_thr);
      ++n_images;
      bar.update();
    }
    pending.clear();
  };

  for (size_t idx = 0; idx < items.size(); ++idx) {
    const InputItem& item = items[idx];
    if (item.video) {
      flush();
      // Frames take the next ids; results.json / images.json get one entry per frame.
      const int64_t first_id = next_id;
      const std::string stem = is_camera_index(item.path) ? "camera" + item.path : fs::path(item.path).stem().string();
      const std::string name = out.unique_name(stem, idx);
      VideoOptions vo;
      vo.output = a.no_overlays ? std::string() : (fs::path(a.out_dir) / (name + ".avi")).string();
      vo.max_frames = a.max_frames;
      vo.draw = out.draw_options();
      const VideoStats st = predict_video(predictor, item.path, vo, [&](int64_t frame, const Prediction& p) {
        Prediction r = p;
        r.image_id = first_id + frame;
        out.write(r, nullptr, name + "_" + std::to_string(frame),
                  {{"id", r.image_id}, {"file_name", item.path}, {"frame", frame}});
      });
      next_id += st.frames;
      n_frames += static_cast<size_t>(st.frames);
      char rate[64];
      std::snprintf(rate, sizeof rate, "%.2f frames/s (model and drawing, %.1f s)", st.fps(), st.seconds);
      log_info("predict: ", item.path, ": ", st.frames, " frames of ", st.width, "x", st.height, ", ", rate,
               vo.output.empty() ? std::string() : "; wrote " + vo.output);
      continue;
    }
    const int64_t id = a.ann.empty() ? next_id : ann_ids[image_index];
    ++image_index;
    ++next_id;
    const std::string name = out.unique_name(fs::path(item.path).stem().string(), idx);
    cv::Mat bgr;
    try {
      bgr = Predictor::read_image(item.path);
    } catch (const Error& e) {
      if (!skip_bad) throw;
      skip(item.path, id, e.what());
      continue;
    }
    pending.push_back({item.path, name, id, bgr});
    if (static_cast<int64_t>(pending.size()) >= a.batch_size) flush();
  }
  flush();
  bar.finish();

  if (!skipped.empty())
    log_warning("predict: ", skipped.size(), " of ", image_files.size(),
                " images could not be read and were skipped (", skipped.front(), skipped.size() > 1 ? ", ..." : "",
                "); images.json lists them with the error");
  std::cout << "predict: " << n_images << " images"
            << (n_frames ? ", " + std::to_string(n_frames) + " video frames" : std::string()) << ", "
            << out.num_instances() << " instances"
            << (skipped.empty() ? std::string() : ", " + std::to_string(skipped.size()) + " skipped") << "; wrote "
            << out.results_path() << ", " << out.images_path() << (a.no_overlays ? "" : " and the overlays")
            << " in " << a.out_dir << "\n"
            << std::flush;
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto a = std::make_shared<PredictArgs>();
  auto* cmd = app.add_subcommand("predict", command_info("predict").description);
  cmd->add_option("config", a->config, "config file (.yaml / .json; mmdetection schema)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("checkpoint", a->checkpoint, "weights (.pth, mmdetection or instseg)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("inputs", a->inputs,
                  "image files, directories or quoted glob patterns ('imgs/*.jpg'), video files "
                  "(.mp4 .avi .mov .mkv ...) or a camera index (0)")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--out-dir", a->out_dir, "output directory")->capture_default_str();
  cmd->add_option("--score-thr", a->score_thr, "drop instances scoring below this (mmdet demo default)")
      ->capture_default_str();
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_flag("--exact", a->exact,
                "mmdetection's numerics bit for bit: no BatchNorm folding, no channels-last (slower on CPU)");
  cmd->add_option("--dtype", a->dtype,
                  "fp32, or autocast to bf16 (CPU with native bf16, CUDA) / fp16 (CUDA); the stem, the neck's "
                  "outputs and the post-processing stay fp32")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}))
      ->capture_default_str();
  cmd->add_flag("--no-overlays", a->no_overlays, "write results.json only (no overlay PNGs / annotated videos)");
  cmd->add_option("--batch-size", a->batch_size, "images (or video frames) per network pass")->capture_default_str();
  cmd->add_flag("--save-pred", a->save_pred,
                "also write preds/<name>.json per image: labels, class names, scores, bboxes (mmdet's "
                "DetInferencer layout)");
  cmd->add_option("--save-masks", a->save_masks,
                  "per-image masks: rle (COCO RLE in preds/<name>.json) or png (masks/<name>_<k>.png, 0/255)")
      ->check(CLI::IsMember({"rle", "png"}));
  cmd->add_flag("--draw-boxes", a->draw_boxes, "draw the boxes on the overlays");
  cmd->add_flag("--no-labels", a->no_labels, "no class / score labels on the overlays");
  cmd->add_option("--max-frames", a->max_frames, "video and camera inputs: stop after N frames (-1: all)")
      ->capture_default_str();
  cmd->add_option("--ann", a->ann,
                  "COCO annotation file the inputs belong to: results use its image ids (matched by file_name) "
                  "and category ids, so that `instseg eval --ann` can score them")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--skip-bad-images", a->skip_bad,
                "skip unreadable images with a warning (default when an input is a directory)");
  cmd->add_flag("--no-skip-bad-images", a->no_skip_bad, "stop at the first unreadable image");
  cmd->add_option("--cfg-options", a->cfg_options, "override config keys: model.test_cfg.score_thr=0.05 ...")
      ->expected(0, -1);
  cmd->footer("Examples:\n  instseg predict configs/solov2_r50_fpn_1x_coco.yaml solov2.pth demo/ 'more/*.jpg' "
              "--out-dir vis --score-thr 0.5\n"
              "  instseg predict configs/solov2_r50_fpn_1x_coco.yaml solov2.pth street.mp4 --out-dir vis   "
              "# vis/street.avi + per-frame results\n"
              "  instseg predict configs/solov2_r50_fpn_1x_coco.yaml solov2.pth 0 --max-frames 300           "
              "# camera 0");
  cmd->callback([a]() { run_predict(*a); });
}

}  // namespace instseg::cli
