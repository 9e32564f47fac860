// `instseg bench`: the real inference path timed stage by stage, as a user
// runs it (mmdetection's tools/analysis_tools/benchmark.py, with stages).
//
//   BenchmarkOptions o;                 // --shape 800x1333, 10 timed iterations after 2 warm-ups
//   o.images = "photos/";               // or a directory of images: decoding is timed too
//   BenchmarkReport r = run_benchmark("configs/solov2/solov2_r50_fpn_1x_coco.yaml", "solov2.pth", o);
//   std::cout << benchmark_table(r);    // markdown; benchmark_json(r) for machines
//
// Stages per batch, each timed with a steady clock (CUDA: between device
// synchronisations): decode (cv::imread; images only), preprocess (the
// config's test pipeline, normalise, pad), forward (network + the model's
// post-processing, masks pasted at the input size: predict_batch), postprocess
// (score filter, class names). Medians and minima over the timed iterations;
// images/s = batch / median of the whole iteration; peak RSS of the process.
// An empty checkpoint runs the model's own random initialisation: timings of
// the network are right, but a random SOLOv2 scores every cell ~0.01, so its
// post-processing would have nothing to do. With random weights a SOLOv2 is
// therefore calibrated (solov2/candidate_calibration.h) to `candidates`
// (cell, class) pairs above score_thr, 300 unless set: a busy photo's
// workload; a trained checkpoint shows its own. On CUDA the report has the
// peak GPU memory allocated during the timed iterations.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace instseg {

struct BenchmarkOptions {
  std::string images;            // a directory of images (cycled over); empty: a synthetic image of `shape`
  int64_t height = 800, width = 1333;  // the synthetic image (uniform noise, BGR)
  int64_t batch = 1;
  int64_t iters = 10;
  int64_t warmup = 2;
  std::string device = "cpu";    // cpu | cuda | cuda:N | auto
  std::string dtype = "fp32";    // fp32 | bf16 | fp16: autocast around the network (fp16: CUDA only)
  bool exact = false;            // PredictorOptions::exact
  double score_thr = 0.3;
  // SOLOv2 only: calibrate the head so that this many (cell, class) pairs of
  // the first image score above test_cfg.score_thr. -1: 300 with random
  // weights, none with a checkpoint (>= 0 calibrates a checkpoint too).
  int64_t candidates = -1;
  std::vector<std::string> cfg_options;
};

struct StageTiming {
  std::string name;
  double median_ms = 0.0, min_ms = 0.0;
};

struct BenchmarkReport {
  std::string config, checkpoint, device, dtype, input;  // input: "800x1333 synthetic" or the directory
  int64_t batch = 1, iters = 0, warmup = 0, threads = 0, images = 0;
  std::vector<StageTiming> stages;  // decode (images only), preprocess, forward, postprocess, total
  double images_per_s = 0.0;
  double peak_rss_mib = 0.0;
  double detections_per_image = 0.0;  // above score_thr, mean over the timed iterations
  int64_t candidates = -1;            // the SOLOv2 calibration target applied; -1: none
  int64_t peak_gpu_mib = -1;          // CUDA: peak allocated over the timed iterations; -1: CPU
};

BenchmarkReport run_benchmark(const std::string& config_file, const std::string& checkpoint,
                              const BenchmarkOptions& options);

// A markdown table (one row per stage) with a header line naming the run.
std::string benchmark_table(const BenchmarkReport& report);
// The same as one JSON object.
std::string benchmark_json(const BenchmarkReport& report);

}  // namespace instseg
