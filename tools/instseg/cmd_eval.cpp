// `instseg eval --ann GT.json --results DETS.json [--iou-type segm|bbox|both]
// [--max-dets 1,10,100] [--json-out STATS.json]`: COCO evaluation of a results
// file, a standalone replacement for pycocotools' loadRes / evaluate /
// accumulate / summarize with the same numbers and the same printed summary.
// Defaults are pycocotools' (maxDets [1, 10, 100]); `--max-dets 100,300,1000`
// gives the numbers mmdet's CocoMetric reports.
#include "commands.h"

#include "instseg/core/log.h"
#include "instseg/core/output_path.h"
#include "instseg/io/coco_eval_io.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>

namespace instseg::cli {

void add_eval_command(CLI::App& app) {
  struct Args {
    std::string ann, results, iou_type = "both", json_out;
    bool classwise = false, segm_area_from_mask = false;
    std::vector<int64_t> max_dets;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("eval", command_info("eval").description);
  cmd->add_option("--ann", args->ann, "COCO instances GT file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--results", args->results, "results list [{image_id, category_id, score, bbox, segmentation}]")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--iou-type", args->iou_type, "segm, bbox or both (default)")
      ->check(CLI::IsMember({"segm", "bbox", "both"}));
  cmd->add_option("--json-out", args->json_out, "write {\"segm\": [12 stats], \"bbox\": [12 stats]} here");
  cmd->add_option("--max-dets", args->max_dets,
                  "COCOeval params.maxDets, at least 3 comma-separated values (default 1,10,100 as pycocotools; "
                  "mmdet's CocoMetric uses 100,300,1000)")
      ->delimiter(',')
      ->expected(1, -1);
  cmd->add_flag("--classwise", args->classwise, "also print the per-category AP table");
  cmd->add_flag("--segm-area-from-mask", args->segm_area_from_mask,
                "segm: drop the results' bbox first (as mmdet's CocoMetric does), so detection areas come from "
                "the masks; by default pycocotools' loadRes takes them from the bbox");
  cmd->callback([args]() {
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    if (!args->max_dets.empty() && args->max_dets.size() < 3)
      fail("eval: --max-dets needs at least 3 values (summarize reports maxDets[0], [1] and [2]), got ",
           args->max_dets.size());
    check_output_file(args->json_out, "--json-out");
    const CocoFile gt = load_coco_json(args->ann);
    const std::vector<CocoResult> results = load_results_json(args->results);
    log_info("loaded ", gt.images.size(), " images, ", gt.annotations.size(), " annotations and ",
             results.size(), " results in ", std::chrono::duration<double>(clock::now() - t0).count(), " s");
    // mmdet's metric order: bbox before segm.
    CocoEvalRequest req;
    req.types.clear();
    if (args->iou_type != "segm") req.types.push_back(eval::IouType::bbox);
    if (args->iou_type != "bbox") req.types.push_back(eval::IouType::segm);
    req.segm_area_from_mask = args->segm_area_from_mask;
    req.classwise = args->classwise;
    req.threads = global_options().threads;
    req.max_dets = args->max_dets;
    req.style = CocoEvalRequest::Style::pycocotools;
    const CocoEvalOutcome outcome = evaluate_coco_report(gt, results, args->results, req);
    std::cout << outcome.text << std::flush;
    nlohmann::json stats = nlohmann::json::object();
    for (const CocoEvalReport& r : outcome.reports) stats[eval::iou_type_name(r.type)] = r.stats;
    if (!args->json_out.empty()) {
      std::ofstream os(args->json_out);
      if (!os) fail(args->json_out, ": cannot open for writing");
      os << stats.dump() << "\n";  // shortest round-trip doubles: full precision
      if (!os) fail(args->json_out, ": write failed");
    }
  });
}

}  // namespace instseg::cli
