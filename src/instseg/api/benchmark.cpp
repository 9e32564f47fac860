#include "instseg/api/benchmark.h"

#include "instseg/api/predictor.h"
#include "instseg/core/check.h"
#include "instseg/core/autocast.h"
#include "instseg/engine/metrics_log.h"
#include "instseg/inference/tensor_predictor.h"
#include "instseg/io/image.h"
#include "instseg/solov2/candidate_calibration.h"
#include "instseg/solov2/solov2.h"

#include <ATen/Parallel.h>
#include <opencv2/core.hpp>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace instseg {
namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::vector<std::string> image_files(const std::string& dir) {
  std::vector<std::string> files = image_files_in(dir);  // throws naming dir when it is not one
  INSTSEG_CHECK(!files.empty(), "bench: no image files (.jpg .jpeg .png .bmp) in ", dir);
  return files;
}

// The process's peak resident set (VmHWM), MiB; 0 where /proc is missing.
double peak_rss_mib() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0.0;
}

StageTiming summarize(const std::string& name, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  StageTiming s;
  s.name = name;
  const size_t n = v.size();
  s.median_ms = n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  s.min_ms = v.front();
  return s;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

BenchmarkReport run_benchmark(const std::string& config_file, const std::string& checkpoint,
                              const BenchmarkOptions& o) {
  INSTSEG_CHECK(o.batch >= 1 && o.iters >= 1 && o.warmup >= 0, "bench: --batch and --iters must be >= 1 and ",
                "--warmup >= 0, got ", o.batch, ", ", o.iters, ", ", o.warmup);
  INSTSEG_CHECK(!o.images.empty() || (o.height > 0 && o.width > 0), "bench: bad --shape ", o.height, "x", o.width);
  INSTSEG_CHECK(o.candidates >= -1, "bench: --candidates must be >= 0 (-1: the default), got ", o.candidates);
  const AmpDtype amp = parse_amp_dtype(o.dtype);
  PredictorOptions po;
  po.device = o.device;
  po.score_thr = o.score_thr;
  po.exact = o.exact;
  po.batch_size = o.batch;
  po.cfg_options = o.cfg_options;
  po.dtype = amp == AmpDtype::none ? "fp32" : to_string(amp);  // the Predictor's autocast: the path users run
  Predictor predictor(config_file, checkpoint, po);
  const c10::Device device = predictor.core().model().device;
  const bool cuda = device.is_cuda();

  const std::vector<std::string> files = o.images.empty() ? std::vector<std::string>{} : image_files(o.images);
  cv::Mat synthetic;
  if (files.empty()) {
    synthetic = cv::Mat(static_cast<int>(o.height), static_cast<int>(o.width), CV_8UC3);
    cv::randu(synthetic, 0, 256);
  }
  auto sync = [&] {
    if (cuda) torch::cuda::synchronize();
  };

  // The SOLOv2 post-processing workload (see benchmark.h).
  const int64_t kRandomWeightsCandidates = 300;  // bench_models' default
  auto* solov2 = dynamic_cast<SOLOv2Impl*>(predictor.core().model().model.get());
  INSTSEG_CHECK(o.candidates < 0 || solov2, "bench: --candidates applies to SOLOv2 models only (", config_file,
                " builds another model)");
  const int64_t candidates = o.candidates >= 0 ? o.candidates
                             : (solov2 && checkpoint.empty()) ? kRandomWeightsCandidates
                                                              : -1;
  if (candidates >= 0) {
    const cv::Mat first = files.empty() ? synthetic : Predictor::read_image(files.front());
    calibrate_solov2_candidates(*solov2, predictor.preprocess({first}).images, candidates);
  }

  std::map<std::string, std::vector<double>> t;
  double detections = 0.0;
  size_t next = 0;
  for (int64_t it = 0; it < o.warmup + o.iters; ++it) {
    if (cuda && it == o.warmup) cuda_peak_memory_mb_and_reset(device.index() < 0 ? 0 : device.index());
    const Clock::time_point t0 = Clock::now();
    std::vector<cv::Mat> images;
    for (int64_t b = 0; b < o.batch; ++b)
      images.push_back(files.empty() ? synthetic : Predictor::read_image(files[next++ % files.size()]));
    const Clock::time_point t1 = Clock::now();
    const Batch batch = predictor.preprocess(images);
    sync();
    const Clock::time_point t2 = Clock::now();
    const std::vector<Instances> dets = predictor.forward(batch);
    sync();
    const Clock::time_point t3 = Clock::now();
    const std::vector<Prediction> preds = predictor.postprocess(dets, batch);
    const Clock::time_point t4 = Clock::now();
    if (it < o.warmup) continue;
    if (!files.empty()) t["decode"].push_back(ms_between(t0, t1));
    t["preprocess"].push_back(ms_between(t1, t2));
    t["forward (network + post-processing)"].push_back(ms_between(t2, t3));
    t["postprocess (score filter, names)"].push_back(ms_between(t3, t4));
    t["total"].push_back(ms_between(t0, t4));
    for (const Prediction& p : preds) detections += static_cast<double>(p.size());
  }

  BenchmarkReport r;
  r.config = config_file;
  r.checkpoint = checkpoint;
  r.device = device.str();
  r.dtype = o.dtype;
  r.input = files.empty() ? std::to_string(o.height) + "x" + std::to_string(o.width) + " synthetic"
                          : o.images + " (" + std::to_string(files.size()) + " images)";
  r.batch = o.batch;
  r.iters = o.iters;
  r.warmup = o.warmup;
  r.threads = at::get_num_threads();
  r.images = static_cast<int64_t>(files.size());
  for (const char* name : {"decode", "preprocess", "forward (network + post-processing)",
                           "postprocess (score filter, names)", "total"})
    if (t.count(name)) r.stages.push_back(summarize(name, t[name]));
  r.images_per_s = 1000.0 * static_cast<double>(o.batch) / r.stages.back().median_ms;
  r.peak_rss_mib = peak_rss_mib();
  r.detections_per_image = detections / static_cast<double>(o.iters * o.batch);
  r.candidates = candidates;
  if (cuda) r.peak_gpu_mib = cuda_peak_memory_mb_and_reset(device.index() < 0 ? 0 : device.index());
  return r;
}

std::string benchmark_table(const BenchmarkReport& r) {
  std::ostringstream s;
  s << "instseg bench: " << r.config << " (" << (r.checkpoint.empty() ? "random weights" : r.checkpoint) << "), "
    << r.device << ", " << r.dtype << ", batch " << r.batch << ", " << r.threads << " threads, " << r.iters
    << " iterations after " << r.warmup << " warm-up, input " << r.input << "\n\n";
  s << "| stage | median ms | min ms | % of total |\n|---|---:|---:|---:|\n";
  const double total = r.stages.back().median_ms;
  char buf[256];
  for (const StageTiming& st : r.stages) {
    std::snprintf(buf, sizeof buf, "| %s | %.1f | %.1f | %.1f |\n", st.name.c_str(), st.median_ms, st.min_ms,
                  total > 0 ? 100.0 * st.median_ms / total : 0.0);
    s << buf;
  }
  std::snprintf(buf, sizeof buf, "\nimages/s %.2f, peak RSS %.0f MiB, detections per image %.1f", r.images_per_s,
                r.peak_rss_mib, r.detections_per_image);
  s << buf;
  if (r.peak_gpu_mib >= 0) s << ", peak GPU memory " << r.peak_gpu_mib << " MiB";
  if (r.candidates >= 0) s << "\nSOLOv2 head calibrated to " << r.candidates << " candidates above score_thr";
  s << "\n";
  return s.str();
}

std::string benchmark_json(const BenchmarkReport& r) {
  std::ostringstream s;
  s.precision(6);
  s << "{\"config\": " << json_string(r.config) << ", \"checkpoint\": " << json_string(r.checkpoint)
    << ", \"device\": " << json_string(r.device) << ", \"dtype\": " << json_string(r.dtype)
    << ", \"input\": " << json_string(r.input) << ", \"batch\": " << r.batch << ", \"iters\": " << r.iters
    << ", \"warmup\": " << r.warmup << ", \"threads\": " << r.threads << ", \"stages\": [";
  for (size_t i = 0; i < r.stages.size(); ++i)
    s << (i ? ", " : "") << "{\"name\": " << json_string(r.stages[i].name) << ", \"median_ms\": "
      << r.stages[i].median_ms << ", \"min_ms\": " << r.stages[i].min_ms << "}";
  s << "], \"images_per_s\": " << r.images_per_s << ", \"peak_rss_mib\": " << r.peak_rss_mib
    << ", \"detections_per_image\": " << r.detections_per_image << ", \"candidates\": " << r.candidates
    << ", \"peak_gpu_mib\": " << r.peak_gpu_mib << "}\n";
  return s.str();
}

}  // namespace instseg
