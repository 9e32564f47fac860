// COCO GT file / results list -> eval::EvalGt / eval::EvalDet (see header).
#include "instseg/io/coco_eval_io.h"

#include "instseg/core/check.h"
#include "instseg/core/huge_pages.h"
#include "instseg/eval/rle.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "instseg/core/log.h"
#include "instseg/core/threads.h"

namespace instseg {
namespace {

// Runs fn(i) for i in [0, n) on all CPUs; rethrows the first error (the one
// with the smallest index, so messages do not depend on scheduling).
template <typename Fn>
void parallel_items(size_t n, const Fn& fn) {
  const size_t nt = std::min<size_t>(static_cast<size_t>(available_cpus()), (n + 255) / 256);
  if (nt <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::vector<std::exception_ptr> errs(nt);
  std::vector<size_t> err_at(nt, SIZE_MAX);
  auto work = [&](size_t tid) {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      try {
        fn(i);
      } catch (...) {
        if (i < err_at[tid]) {
          err_at[tid] = i;
          errs[tid] = std::current_exception();
        }
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < nt; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
  size_t best = SIZE_MAX, bt = 0;
  for (size_t t = 0; t < nt; ++t)
    if (err_at[t] < best) best = err_at[t], bt = t;
  if (best != SIZE_MAX) std::rethrow_exception(errs[bt]);
}

const CocoImage& image_of(const CocoFile& gt, int64_t image_id) { return gt.images[gt.image_index.at(image_id)]; }

}  // namespace

rle::Rle segmentation_to_rle(const CocoSegmentation& s, int64_t h, int64_t w) {
  switch (s.kind) {
    case CocoSegmentation::Kind::polygons:
      return rle::from_polygons(s.polygons, h, w);
    case CocoSegmentation::Kind::rle_compressed:
      return rle::from_string(s.counts, s.h, s.w);
    case CocoSegmentation::Kind::rle_uncompressed:
      return rle::from_counts(s.ucounts, s.h, s.w);
    case CocoSegmentation::Kind::none:
      break;
  }
  fail("no segmentation");
}

std::vector<eval::EvalGt> coco_gt_for_eval(const CocoFile& gt, eval::IouType type) {
  std::vector<eval::EvalGt> out(gt.annotations.size());
  parallel_items(gt.annotations.size(), [&](size_t i) {
    const CocoAnnotation& a = gt.annotations[i];
    auto ctx = [&]() { return str_cat(gt.path, ": annotations[", i, "] (id ", a.id, "): "); };
    eval::EvalGt& g = out[i];
    g.id = a.id;
    g.image_id = a.image_id;
    g.category_id = a.category_id;
    g.iscrowd = a.iscrowd;
    if (!a.has_area) fail(ctx(), "no \"area\" (COCOeval tests it against the area ranges)");
    g.area = a.area;
    if (type == eval::IouType::bbox) {
      if (!a.has_bbox) fail(ctx(), "no \"bbox\" (needed for bbox evaluation)");
      std::copy(a.bbox, a.bbox + 4, g.bbox.begin());
    } else {
      auto it = gt.image_index.find(a.image_id);
      if (it == gt.image_index.end()) fail(ctx(), "image_id ", a.image_id, " is not in images");
      if (a.segmentation.kind == CocoSegmentation::Kind::none)
        fail(ctx(), "no \"segmentation\" (needed for segm evaluation)");
      try {
        g.mask = segmentation_to_rle(a.segmentation, gt.images[it->second].height, gt.images[it->second].width);
      } catch (const Error& e) {
        fail(ctx(), "segmentation: ", e.what());
      }
    }
  });
  return out;
}

std::vector<eval::EvalDet> coco_results_for_eval(const CocoFile& gt, const std::vector<CocoResult>& results,
                                                 eval::IouType type, const std::string& res_path,
                                                 const LoadResOptions& opt) {
  // loadRes asserts image ids; unknown categories would be dropped silently
  // by COCOeval, which hides label-mapping bugs: both are errors here.
  for (size_t i = 0; i < results.size(); ++i) {
    const CocoResult& r = results[i];
    if (!gt.image_index.count(r.image_id))
      fail(res_path, ": results[", i, "].image_id: ", r.image_id, " is not an image of ", gt.path);
    if (!gt.category_index.count(r.category_id))
      fail(res_path, ": results[", i, "].category_id: ", r.category_id, " is not a category of ", gt.path);
  }
  std::vector<eval::EvalDet> out;
  out.reserve(results.size());
  advise_huge_pages(out.data(), results.size() * sizeof(eval::EvalDet));
  out.resize(results.size());
  if (results.empty()) return out;
  // loadRes picks its branch from the first entry only.
  const bool bbox_branch = results[0].has_bbox && !opt.ignore_bbox;
  if (!bbox_branch && results[0].segmentation.kind == CocoSegmentation::Kind::none)
    fail(res_path, ": results[0]: neither \"bbox\" nor \"segmentation\" (loadRes needs one)");
  parallel_items(results.size(), [&](size_t i) {
    const CocoResult& r = results[i];
    eval::EvalDet& d = out[i];
    d.id = static_cast<int64_t>(i) + 1;
    d.image_id = r.image_id;
    d.category_id = r.category_id;
    d.score = r.score;
    const bool has_seg = r.segmentation.kind != CocoSegmentation::Kind::none;
    // Compressed strings (what mmdet writes) that the evaluator gets as
    // strings (masks_as_strings) or not at all (bbox) are decoded into scratch
    // memory, to check them (the error names the entry) and for the mask's
    // area and box; other masks are decoded into the detection.
    const bool is_string = r.segmentation.kind == CocoSegmentation::Kind::rle_compressed &&
                           (opt.masks_as_strings || type == eval::IouType::bbox);
    thread_local rle::Rle scratch;
    auto decode = [&]() -> const rle::Rle& {
      try {
        if (is_string) {
          rle::from_string(r.segmentation.counts, r.segmentation.h, r.segmentation.w, &scratch);
          return scratch;
        }
        const CocoImage& img = image_of(gt, r.image_id);
        d.mask = segmentation_to_rle(r.segmentation, img.height, img.width);
        return d.mask;
      } catch (const Error& e) {
        fail(res_path, ": results[", i, "].segmentation: ", e.what());
      }
    };
    auto keep_string = [&]() {
      d.mask.h = r.segmentation.h;
      d.mask.w = r.segmentation.w;
      d.mask_string = &r.segmentation.counts;
    };
    if (bbox_branch) {
      if (!r.has_bbox)
        fail(res_path, ": results[", i, "]: no \"bbox\" (results[0] has one, so loadRes reads it from every entry)");
      std::copy(r.bbox, r.bbox + 4, d.bbox.begin());
      d.area = r.bbox[2] * r.bbox[3];
      if (type == eval::IouType::segm) {
        if (has_seg) {
          decode();
          if (is_string) keep_string();
        } else {
          // loadRes: segmentation = [[x1, y1, x1, y2, x2, y2, x2, y1]].
          const double x1 = r.bbox[0], x2 = r.bbox[0] + r.bbox[2], y1 = r.bbox[1], y2 = r.bbox[1] + r.bbox[3];
          const CocoImage& img = image_of(gt, r.image_id);
          d.mask = rle::from_polygons({{x1, y1, x1, y2, x2, y2, x2, y1}}, img.height, img.width);
        }
      }
    } else {
      if (!has_seg)
        fail(res_path, ": results[", i,
             "]: no \"segmentation\" (results[0] has no bbox, so loadRes reads the mask of every entry)");
      const rle::Rle& m = decode();
      d.area = static_cast<double>(rle::area(m));
      if (r.has_bbox && !opt.ignore_bbox)
        std::copy(r.bbox, r.bbox + 4, d.bbox.begin());
      else
        rle::to_bbox(m, d.bbox.data());
      if (type == eval::IouType::bbox)
        d.mask = rle::Rle{};  // not needed any more
      else if (is_string)
        keep_string();
    }
  });
  return out;
}

eval::CocoEvalParams coco_eval_params(const CocoFile& gt, eval::IouType type) {
  eval::CocoEvalParams p;
  p.iou_type = type;
  for (const auto& im : gt.images) p.img_ids.push_back(im.id);
  for (const auto& c : gt.categories) p.cat_ids.push_back(c.id);
  return p;
}

std::vector<int64_t> mmdet_proposal_nums() { return {100, 300, 1000}; }

std::vector<std::string> coco_category_names_sorted(const CocoFile& gt) {
  std::vector<const CocoCategory*> cats;
  for (const auto& c : gt.categories) cats.push_back(&c);
  std::sort(cats.begin(), cats.end(), [](auto* a, auto* b) { return a->id < b->id; });
  std::vector<std::string> names;
  for (auto* c : cats) names.push_back(c->name);
  return names;
}

std::vector<CocoEvalReport> evaluate_coco(const CocoFile& gt, const std::vector<CocoResult>& results,
                                          const std::string& res_path, const std::vector<eval::IouType>& types,
                                          const LoadResOptions& opt, bool per_category, int threads,
                                          const std::vector<int64_t>& max_dets) {
  if (!max_dets.empty()) {
    // pycocotools' summarize indexes maxDets[0..2] (IndexError otherwise).
    if (max_dets.size() < 3) fail("COCO evaluation: maxDets needs at least 3 values, got ", max_dets.size());
    for (int64_t m : max_dets)
      if (m < 1) fail("COCO evaluation: maxDets must be positive, got ", m);
  }
  std::vector<CocoEvalReport> out;
  for (const eval::IouType type : types) {
    const auto gts = coco_gt_for_eval(gt, type);
    LoadResOptions load = opt;
    load.masks_as_strings = true;  // `results` outlives the evaluator below
    const auto dets = coco_results_for_eval(gt, results, type, res_path, load);
    auto params = coco_eval_params(gt, type);
    params.num_threads = threads;
    params.keep_scores = false;  // only the stats and the per-category table are reported
    if (!max_dets.empty()) params.max_dets = max_dets;
    eval::CocoEvaluator ev(params);
    ev.evaluate(gts, dets);
    ev.accumulate();
    CocoEvalReport r;
    r.type = type;
    r.stats = ev.stats();
    r.summary = ev.summary_text();
    r.copypaste = ev.copypaste_line();
    if (per_category) r.category_table = ev.per_category_table(coco_category_names_sorted(gt));
    out.push_back(std::move(r));
  }
  return out;
}

CocoEvalOutcome evaluate_coco_report(const CocoFile& gt, const std::vector<CocoResult>& results,
                                     const std::string& res_name, const CocoEvalRequest& req) {
  CocoEvalOutcome out;
  for (const eval::IouType type : req.types) {
    const auto t0 = std::chrono::steady_clock::now();
    LoadResOptions opt;
    opt.ignore_bbox = type == eval::IouType::segm && req.segm_area_from_mask;
    CocoEvalReport r =
        evaluate_coco(gt, results, res_name, {type}, opt, req.classwise, req.threads, req.max_dets).front();
    log_info("COCO evaluation: ", eval::iou_type_name(type), " in ",
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), " s");
    out.text += req.style == CocoEvalRequest::Style::mmdet
                    ? str_cat("Evaluating ", eval::iou_type_name(type), "...\n")
                    : str_cat("Evaluate annotation type *", eval::iou_type_name(type), "*\n");
    out.text += r.summary;
    if (req.classwise) out.text += r.category_table;
    out.text += r.copypaste + "\n";
    out.reports.push_back(std::move(r));
  }
  return out;
}

}  // namespace instseg
