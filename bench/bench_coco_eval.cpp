// COCOeval throughput: evaluate() + accumulate() on a generated COCO-like set
// (default 5000 images of 480x640, ~7 GT and 100 detections per image, 80
// categories with COCO's non-contiguous ids, object sizes spanning the
// small/medium/large ranges, ~1% crowd regions). Reports images/s and the
// process's peak RSS (VmHWM).
//
//   build/bench/bench_coco_eval [--images=5000] [--write-files=DIR] [benchmark flags]
//
// --write-files also writes DIR/gt.json and DIR/dets.json (the same data) so
// that another evaluator (pycocotools) can be timed on identical files, and
// adds a benchmark that starts from those files (parse + loadRes + evaluate).
#include "instseg/core/threads.h"
#include "instseg/eval/coco_eval.h"
#include "instseg/eval/rle.h"
#include "instseg/io/coco_eval_io.h"
#include "instseg/io/coco_json.h"
#include "instseg/io/results_json.h"

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace instseg;

int g_images = 5000;
std::string g_dir;
constexpr int64_t kH = 480, kW = 640;

double peak_rss_mb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

std::vector<int64_t> coco_cat_ids() {
  const int missing[] = {12, 26, 29, 30, 45, 66, 68, 69, 71, 83};
  std::vector<int64_t> ids;
  for (int i = 1; i <= 90; ++i)
    if (std::find(std::begin(missing), std::end(missing), i) == std::end(missing)) ids.push_back(i);
  return ids;  // 80 ids
}

std::vector<double> ellipse(double cx, double cy, double rx, double ry, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> jit(0.9, 1.1);
  std::vector<double> xy;
  for (int k = 0; k < 16; ++k) {
    const double a = 2 * M_PI * k / 16, j = jit(rng);
    xy.push_back(cx + rx * j * std::cos(a));
    xy.push_back(cy + ry * j * std::sin(a));
  }
  return xy;
}

struct Data {
  std::vector<int64_t> img_ids, cat_ids;
  std::vector<eval::EvalGt> gts;
  std::vector<eval::EvalDet> dets;
};

// Per-image generation with a per-image seed, in parallel; deterministic.
const Data& data() {
  static const Data d = [] {
    Data out;
    out.cat_ids = coco_cat_ids();
    const size_t n = static_cast<size_t>(g_images);
    std::vector<std::vector<eval::EvalGt>> g(n);
    std::vector<std::vector<eval::EvalDet>> dt(n);
    std::atomic<size_t> next{0};
    auto work = [&]() {
      for (size_t i; (i = next.fetch_add(1)) < n;) {
        std::mt19937_64 rng(1000003 * i + 17);
        std::uniform_real_distribution<double> U(0, 1);
        auto cat = [&]() { return out.cat_ids[static_cast<size_t>(U(rng) * 80) % 80]; };
        const int64_t image_id = static_cast<int64_t>(i) + 1;
        const int ngt = 3 + static_cast<int>(U(rng) * 9);  // 3..11, mean 7
        struct Obj {
          double cx, cy, rx, ry;
          int64_t cat;
        };
        std::vector<Obj> objs;
        for (int k = 0; k < ngt; ++k) {
          const double r = std::exp(std::log(4.0) + U(rng) * (std::log(150.0) - std::log(4.0)));
          Obj o{U(rng) * kW, U(rng) * kH, r * (0.6 + 0.8 * U(rng)), r * (0.6 + 0.8 * U(rng)), cat()};
          objs.push_back(o);
          eval::EvalGt e;
          e.id = image_id * 100 + k;
          e.image_id = image_id;
          e.category_id = o.cat;
          e.iscrowd = U(rng) < 0.01;
          e.mask = rle::from_polygon(ellipse(o.cx, o.cy, o.rx, o.ry, rng), kH, kW);
          e.area = static_cast<double>(rle::area(e.mask));
          rle::to_bbox(e.mask, e.bbox.data());
          g[i].push_back(std::move(e));
        }
        for (int k = 0; k < 100; ++k) {
          eval::EvalDet e;
          e.image_id = image_id;
          e.score = U(rng);
          std::vector<double> poly;
          if (k < 60) {
            // A perturbed copy of a GT; 20% with the wrong category.
            const Obj& o = objs[static_cast<size_t>(k) % objs.size()];
            const double s = 0.15 * std::max(o.rx, o.ry);
            poly = ellipse(o.cx + s * (U(rng) - 0.5), o.cy + s * (U(rng) - 0.5), o.rx * (0.8 + 0.4 * U(rng)),
                           o.ry * (0.8 + 0.4 * U(rng)), rng);
            e.category_id = U(rng) < 0.2 ? cat() : o.cat;
          } else {
            const double r = std::exp(std::log(4.0) + U(rng) * (std::log(100.0) - std::log(4.0)));
            poly = ellipse(U(rng) * kW, U(rng) * kH, r, r * (0.6 + 0.8 * U(rng)), rng);
            e.category_id = U(rng) < 0.5 ? objs[static_cast<size_t>(k) % objs.size()].cat : cat();
          }
          e.mask = rle::from_polygon(poly, kH, kW);
          rle::to_bbox(e.mask, e.bbox.data());
          e.area = e.bbox[2] * e.bbox[3];  // loadRes with bbox present
          dt[i].push_back(std::move(e));
        }
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < available_cpus(); ++t) pool.emplace_back(work);
    work();
    for (auto& th : pool) th.join();
    for (size_t i = 0; i < n; ++i) {
      out.img_ids.push_back(static_cast<int64_t>(i) + 1);
      for (auto& e : g[i]) out.gts.push_back(std::move(e));
      for (auto& e : dt[i]) {
        e.id = static_cast<int64_t>(out.dets.size()) + 1;
        out.dets.push_back(std::move(e));
      }
    }
    return out;
  }();
  return d;
}

void write_files(const std::string& dir) {
  const Data& d = data();
  {
    std::ofstream os(dir + "/gt.json");
    os.precision(17);
    os << "{\"images\": [";
    for (size_t i = 0; i < d.img_ids.size(); ++i)
      os << (i ? ", " : "") << "{\"id\": " << d.img_ids[i] << ", \"height\": " << kH << ", \"width\": " << kW
         << ", \"file_name\": \"" << d.img_ids[i] << ".jpg\"}";
    os << "],\n\"categories\": [";
    for (size_t k = 0; k < d.cat_ids.size(); ++k)
      os << (k ? ", " : "") << "{\"id\": " << d.cat_ids[k] << ", \"name\": \"c" << d.cat_ids[k] << "\"}";
    os << "],\n\"annotations\": [";
    for (size_t j = 0; j < d.gts.size(); ++j) {
      const auto& g = d.gts[j];
      os << (j ? ",\n" : "\n") << "{\"id\": " << g.id << ", \"image_id\": " << g.image_id
         << ", \"category_id\": " << g.category_id << ", \"iscrowd\": " << (g.iscrowd ? 1 : 0)
         << ", \"area\": " << g.area << ", \"bbox\": [" << g.bbox[0] << ", " << g.bbox[1] << ", " << g.bbox[2]
         << ", " << g.bbox[3] << "], \"segmentation\": {\"size\": [" << kH << ", " << kW << "], \"counts\": ";
      if (g.iscrowd) {
        os << "[";
        for (size_t c = 0; c < g.mask.counts.size(); ++c) os << (c ? ", " : "") << g.mask.counts[c];
        os << "]}}";
      } else {
        os << nlohmann::json(rle::to_string(g.mask)).dump() << "}}";
      }
    }
    os << "]}\n";
  }
  std::vector<CocoResult> rs;
  for (const auto& e : d.dets) {
    CocoResult r;
    r.image_id = e.image_id;
    r.category_id = e.category_id;
    r.score = e.score;
    r.has_bbox = true;
    std::copy(e.bbox.begin(), e.bbox.end(), r.bbox);
    r.segmentation.kind = CocoSegmentation::Kind::rle_compressed;
    r.segmentation.h = kH;
    r.segmentation.w = kW;
    r.segmentation.counts = rle::to_string(e.mask);
    rs.push_back(std::move(r));
  }
  save_results_json(dir + "/dets.json", rs);
}

void BM_EvaluateAccumulate(benchmark::State& state, eval::IouType type) {
  const Data& d = data();
  eval::CocoEvalParams p;
  p.iou_type = type;
  p.img_ids = d.img_ids;
  p.cat_ids = d.cat_ids;
  p.num_threads = static_cast<int>(state.range(0));
  std::array<double, 12> stats{};
  for (auto _ : state) {
    eval::CocoEvaluator ev(p);
    ev.evaluate(d.gts, d.dets);
    ev.accumulate();
    stats = ev.stats();
    benchmark::DoNotOptimize(stats);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(d.img_ids.size()));
  state.counters["images_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * d.img_ids.size()), benchmark::Counter::kIsRate);
  state.counters["peak_rss_MB"] = peak_rss_mb();
  state.counters["AP"] = stats[0];
  state.counters["AP_s"] = stats[3];
}

// From files: parse GT and results, loadRes, evaluate, accumulate (segm).
void BM_FromFiles(benchmark::State& state) {
  for (auto _ : state) {
    const CocoFile gt = load_coco_json(g_dir + "/gt.json");
    const auto res = load_results_json(g_dir + "/dets.json");
    auto reports = evaluate_coco(gt, res, g_dir + "/dets.json", {eval::IouType::segm}, {}, false,
                                       static_cast<int>(state.range(0)));
    benchmark::DoNotOptimize(reports);
  }
  state.counters["images_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * static_cast<size_t>(g_images)),
                         benchmark::Counter::kIsRate);
  state.counters["peak_rss_MB"] = peak_rss_mb();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--images=", 9) == 0)
      g_images = std::atoi(argv[i] + 9);
    else if (std::strncmp(argv[i], "--write-files=", 14) == 0)
      g_dir = argv[i] + 14;
    else
      rest.push_back(argv[i]);
  }
  int rc = static_cast<int>(rest.size());
  const int cpus = instseg::available_cpus();
  std::fprintf(stderr, "generating %d images...\n", g_images);
  const auto& d = data();
  std::fprintf(stderr, "%zu images, %zu GT, %zu detections, %zu categories; peak RSS %.0f MB\n", d.img_ids.size(),
               d.gts.size(), d.dets.size(), d.cat_ids.size(), peak_rss_mb());
  benchmark::RegisterBenchmark("coco_eval/segm", BM_EvaluateAccumulate, eval::IouType::segm)
      ->Arg(1)->Arg(cpus)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::RegisterBenchmark("coco_eval/bbox", BM_EvaluateAccumulate, eval::IouType::bbox)
      ->Arg(1)->Arg(cpus)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();
  if (!g_dir.empty()) {
    write_files(g_dir);
    benchmark::RegisterBenchmark("coco_eval/segm_from_files", BM_FromFiles)
        ->Arg(cpus)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
  }
  benchmark::Initialize(&rc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
