// bf16 accuracy against fp32 on real images: the same Predictor, the same
// preprocessed batch, the network once in fp32 and once under CPU bf16
// autocast (as `bench_models --bf16` and AMP training run it); detections
// above --score-thr are matched one to one (same label, greedy by fp32 score,
// best mask IoU) and the tool reports, per image folder:
//   - detections in fp32 and in bf16, and how many fp32 ones have a bf16
//     match with mask IoU >= 0.5 ("the same detections" when both counts
//     equal that number);
//   - mean mask IoU over the fp32 detections (an unmatched one counts 0);
//   - the largest score difference of a matched pair, and the highest score
//     of a detection without a partner on either side (how far above the
//     threshold the detections that differ reach);
//   - the mean IoU of the matched pairs alone, by the fp32 mask's area in
//     COCO's size classes (small < 32^2 <= medium < 96^2 <= large pixels): how
//     far bf16 moves a mask's boundary, apart from detections that cross the
//     score threshold.
// --head-scores: also the SOLOv2 category branch's probabilities before any
// post-processing (sigmoid of the captured "solov2.cls_scores.L"), compared
// entry by entry: the largest difference where either side exceeds 0.1
// (the pre-NMS score threshold) and how many entries cross 0.1. Tells a score
// moved by the category branch from one moved by the masks (maskness, Matrix
// NMS's decay).
// --autocast-ends bf16: the bf16 run without InferenceGraphOptions::
// autocast_fp32_ends (stem and neck outputs in bf16, as mmdetection's
// autocast runs them), for the before/after of that option.
// --category bf16: the bf16 run without InferenceGraphOptions::
// autocast_fp32_category (SOLOv2's category branch in bf16).
// Not a timed benchmark: an accuracy check (issue 11's "bf16 done right").
//
//   build/bench/bench_bf16_accuracy CONFIG CHECKPOINT DIR [DIR...] [--score-thr 0.3] [--threads N] [--limit N] [--head-scores] [--autocast-ends fp32|bf16] [--category fp32|bf16]
#include "instseg/api/predictor.h"
#include "instseg/core/intra_op_threads.h"
#include "instseg/engine/amp.h"
#include "instseg/inference/inference_model.h"
#include "instseg/inference/tensor_predictor.h"
#include "instseg/structures/tensor_dict.h"
#include "instseg/io/image.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

using namespace instseg;

namespace {

struct Tally {
  int64_t images = 0, fp32 = 0, bf16 = 0, matched = 0, same_images = 0;
  double iou_sum = 0.0, max_score_diff = 0.0;
  double pair_iou[3] = {0, 0, 0};  // matched pairs' IoU sum by size class
  int64_t pairs[3] = {0, 0, 0};
  double head_max_diff = 0.0;  // --head-scores
  int64_t head_above = 0, head_crossing = 0;
  // The highest score of a detection without a partner (IoU >= 0.5) on the
  // other side: how far above the threshold "not the same detections" reaches.
  double max_unmatched_fp32 = 0.0, max_unmatched_bf16 = 0.0;
};

// The category probabilities of two captures, level by level.
void compare_head(const TensorDict& a, const TensorDict& b, Tally& t) {
  for (const auto& item : a) {
    if (item.first.rfind("solov2.cls_scores.", 0) != 0) continue;
    const at::Tensor pa = item.second.to(at::kDouble).sigmoid(), pb = b.at(item.first).to(at::kDouble).sigmoid();
    const at::Tensor above = (pa > 0.1) | (pb > 0.1);
    t.head_above += above.sum().item<int64_t>();
    t.head_crossing += ((pa > 0.1) != (pb > 0.1)).sum().item<int64_t>();
    if (above.any().item<bool>())
      t.head_max_diff = std::max(t.head_max_diff, (pa - pb).abs().masked_select(above).max().item<double>());
  }
}

int size_class(double area) { return area < 32.0 * 32.0 ? 0 : area < 96.0 * 96.0 ? 1 : 2; }

// Greedy one-to-one matching of a's instances (best score first) to b's.
void compare(const Prediction& a, const Prediction& b, Tally& t) {
  t.images += 1;
  t.fp32 += a.size();
  t.bf16 += b.size();
  std::vector<bool> used(static_cast<size_t>(b.size()), false);
  int64_t matched = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    const at::Tensor ma = a.masks[i].to(at::kBool);
    const double area = ma.sum().item<double>();
    double best = 0.0;
    int64_t best_j = -1;
    for (int64_t j = 0; j < b.size(); ++j) {
      if (used[j] || b.labels[j].item<int64_t>() != a.labels[i].item<int64_t>()) continue;
      const at::Tensor mb = b.masks[j].to(at::kBool);
      const double inter = (ma & mb).sum().item<double>(), uni = (ma | mb).sum().item<double>();
      const double iou = uni > 0 ? inter / uni : 1.0;
      if (iou > best) best = iou, best_j = j;
    }
    t.iou_sum += best;
    if (best_j >= 0 && best >= 0.5) {
      used[best_j] = true;
      ++matched;
      t.pair_iou[size_class(area)] += best;
      t.pairs[size_class(area)] += 1;
      t.max_score_diff = std::max(t.max_score_diff, std::abs(a.scores[i].item<double>() - b.scores[best_j].item<double>()));
    } else {
      t.max_unmatched_fp32 = std::max(t.max_unmatched_fp32, a.scores[i].item<double>());
    }
  }
  for (int64_t j = 0; j < b.size(); ++j)
    if (!used[j]) t.max_unmatched_bf16 = std::max(t.max_unmatched_bf16, b.scores[j].item<double>());
  t.matched += matched;
  if (matched == a.size() && matched == b.size()) t.same_images += 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<std::string> pos;
    double thr = 0.3;
    int threads = 0;
    int64_t limit = -1;
    bool head_scores = false;
    std::string ends = "fp32";
    std::string category = "fp32";
    for (int i = 1; i < argc; ++i) {
      const std::string k = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::runtime_error("missing value after " + k);
        return argv[++i];
      };
      if (k == "--score-thr") thr = std::stod(value());
      else if (k == "--threads") threads = std::stoi(value());
      else if (k == "--limit") limit = std::stoll(value());
      else if (k == "--head-scores") head_scores = true;
      else if (k == "--autocast-ends") ends = value();
      else if (k == "--category") category = value();
      else if (!k.empty() && k[0] == '-') throw std::runtime_error("unknown option " + k);
      else pos.push_back(k);
    }
    if (pos.size() < 3) throw std::runtime_error("usage: bench_bf16_accuracy CONFIG CHECKPOINT DIR [DIR...] [--score-thr T] [--threads N] [--limit N] [--head-scores] [--autocast-ends fp32|bf16] [--category fp32|bf16]");
    configure_threads(threads);
    PredictorOptions o;
    o.device = "cpu";
    o.score_thr = thr;
    Predictor predictor(pos[0], pos[1], o);
    if (ends != "fp32" && ends != "bf16") throw std::runtime_error("--autocast-ends: fp32 or bf16, got " + ends);
    if (category != "fp32" && category != "bf16") throw std::runtime_error("--category: fp32 or bf16, got " + category);
    if (ends == "bf16" || category == "bf16") {
      InferenceGraphOptions g;
      g.autocast_fp32_ends = ends == "fp32";
      g.autocast_fp32_category = category == "fp32";
      prepare_for_inference(*predictor.core().model().model, c10::Device(c10::kCPU), g);
    }
    std::printf("| images | n | fp32 detections | bf16 detections | fp32 matched (IoU >= 0.5) | images with the same detections | mean mask IoU | max score diff | matched pairs' mean IoU: small / medium / large (pairs) |\n|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (size_t d = 2; d < pos.size(); ++d) {
      std::vector<std::string> files = image_files_in(pos[d]);
      if (limit >= 0 && static_cast<int64_t>(files.size()) > limit) files.resize(static_cast<size_t>(limit));
      Tally t;
      for (const std::string& f : files) {
        const cv::Mat img = Predictor::read_image(f);
        const Batch batch = predictor.preprocess({img});
        TensorDict cap32, cap16;
        DetectorImpl& net = *predictor.core().model().model;
        if (head_scores) net.set_capture(&cap32);
        const std::vector<Prediction> p32 = predictor.postprocess(predictor.forward(batch), batch);
        if (head_scores) net.set_capture(&cap16);
        std::vector<Instances> d16;
        {
          AutocastGuard ac(c10::DeviceType::CPU, AmpDtype::bf16);
          d16 = predictor.forward(batch);
        }
        at::autocast::clear_cache();
        net.set_capture(nullptr);
        const std::vector<Prediction> p16 = predictor.postprocess(d16, batch);
        compare(p32[0], p16[0], t);
        if (head_scores) compare_head(cap32, cap16, t);
      }
      std::printf("| %s | %lld | %lld | %lld | %lld | %lld | %.4f | %.4f |", pos[d].c_str(),
                  static_cast<long long>(t.images), static_cast<long long>(t.fp32), static_cast<long long>(t.bf16),
                  static_cast<long long>(t.matched), static_cast<long long>(t.same_images),
                  t.fp32 > 0 ? t.iou_sum / static_cast<double>(t.fp32) : 1.0, t.max_score_diff);
      for (int c = 0; c < 3; ++c)
        std::printf(" %s%.4f (%lld)", c ? "/ " : "", t.pairs[c] ? t.pair_iou[c] / static_cast<double>(t.pairs[c]) : 0.0,
                    static_cast<long long>(t.pairs[c]));
      std::printf(" |\n");
      std::printf("  highest score of a detection without a partner: fp32 %.4f, bf16 %.4f (threshold %.2f)\n",
                  t.max_unmatched_fp32, t.max_unmatched_bf16, thr);
      if (head_scores)
        std::printf("  category probabilities before post-processing: %lld entries above 0.1 in either, %lld crossing 0.1, max diff %.4f\n",
                    static_cast<long long>(t.head_above), static_cast<long long>(t.head_crossing), t.head_max_diff);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_bf16_accuracy: %s\n", e.what());
    return 1;
  }
  return 0;
}
