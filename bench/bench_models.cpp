// Whole-model inference benchmark: per-stage median milliseconds, images/s
// and peak memory of SOLOv2 (R50, light-R18) and QueryInst (R50), on the CPU
// or (--device cuda) a GPU.
// Plain main (not Google Benchmark): explicit warm-up, N timed repetitions,
// medians. See docs/benchmarks/models.md for the method and results.
//
//   build/bench/bench_models                       # all models, fp32
//   build/bench/bench_models --model solov2_light_r18 --reps 10 --warmup 3
//   build/bench/bench_models --bf16                # + CPU bf16 autocast, side by side
//   build/bench/bench_models --device cuda --fp16 --batch 8   # GPU: fp32 and fp16 autocast
//
// Stages are timed by calling the models' public submodules in the order
// their predict() does (backbone -> neck -> head -> post-processing), on the
// same input; predict() itself is timed separately in the same repetition.
//
// Weights are random (mmdet init). Timing barely depends on weight values
// except in SOLOv2's post-processing, whose cost grows with the number of
// (cell, class) candidates above score_thr: a fresh head scores everything
// ~0.01, so nothing would pass. The benchmark therefore calibrates the bias
// of class 0 of conv_cls so that exactly --candidates point-NMS survivors
// exceed score_thr (class-0 weights are scaled up first so that its logits
// vary over the grid), and predict() sees the same, realistic, workload
// (solov2/candidate_calibration.h, shared with `instseg bench`).
#include "instseg/core/intra_op_threads.h"
#include "instseg/core/threads.h"
#include "instseg/engine/amp.h"
#include "instseg/engine/metrics_log.h"
#include "instseg/inference/inference_model.h"
#include "instseg/models/model.h"
#include "instseg/queryinst/queryinst_postprocess.h"
#include "instseg/solov2/candidate_calibration.h"
#include "instseg/solov2/solov2_postprocess.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/record_function.h>
#include <torch/cuda.h>
#include <torch/nn/modules/normalization.h>
#include <torch/utils.h>
#include <torch/version.h>

#include <sys/resource.h>

// --profile uses LibTorch's legacy (non-Kineto) profiler, whose C++ API is
// that of 1.13; on other versions the option reports itself unsupported.
#if TORCH_VERSION_MAJOR < 2 && __has_include(<torch/csrc/autograd/profiler_legacy.h>)
#include <torch/csrc/autograd/profiler_legacy.h>
#define BENCH_HAVE_PROFILER 1
#else
#define BENCH_HAVE_PROFILER 0
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace instseg;

namespace {

// ---------------------------------------------------------------- utilities

using Clock = std::chrono::steady_clock;

// --device cuda: every timed stage is bracketed by device synchronisations, so
// that a stage's time is its kernels' time and not their launch time.
bool g_cuda_sync = false;

void device_sync() {
  if (g_cuda_sync) torch::cuda::synchronize();
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double minimum(const std::vector<double>& v) {
  return v.empty() ? NAN : *std::min_element(v.begin(), v.end());
}

std::string read_first_line(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

std::string cpu_model_name() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "?";
}

// Peak resident set (VmHWM, KiB) of this process since the last reset_peak_rss();
// falls back to getrusage's ru_maxrss (never reset) where /proc is unavailable.
long peak_rss_kb() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// Linux >= 4.0: writing 5 to clear_refs resets VmHWM to the current RSS, so
// each model's peak is its own even when several run in one process.
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  return static_cast<bool>(f.flush());
}

// The BLAS / oneDNN lines of LibTorch's build configuration.
std::string torch_backend_summary() {
  std::istringstream cfg(at::show_config());
  std::string out;
  for (std::string line; std::getline(cfg, line);) {
    for (const char* key : {"BLAS_INFO", "USE_MKLDNN", "USE_OPENMP", "CPU capability"}) {
      auto p = line.find(key);
      if (p == std::string::npos) continue;
      std::string s = line.substr(p);
      if (s.size() > 60) s = s.substr(0, 60);
      if (!out.empty()) out += "; ";
      out += s;
    }
  }
  return out;
}

// ---------------------------------------------------------------- options

struct Args {
  std::vector<std::string> models{"solov2_r50", "solov2_light_r18", "queryinst_r50"};
  int reps = 5;
  int warmup = 2;
  int threads = 0;  // 0: all available CPUs
  int batch = 1;
  int64_t candidates = 300;           // SOLOv2: (cell, class) pairs above score_thr
  std::vector<int64_t> post_sweep;    // SOLOv2: extra post-processing-only timings
  bool bf16 = false;
  bool fp16 = false;          // --device cuda only: + fp16 autocast
  std::string device = "cpu";  // cpu | cuda
  bool profile = false;  // operator breakdown of one extra repetition per model
  uint64_t seed = 0;
  // Inference graphs to run each model with, one after another in this
  // process: "exact" (mmdetection's numerics) and/or "fast" (BatchNorm folded,
  // channels-last, and under autocast the stem and the neck's outputs in fp32;
  // inference_model.h's InferenceGraphOptions) and/or "fast-bf16ends" (fast
  // without the fp32 stem and features: what the fp32 ends cost under --bf16)
  // and/or "fast-bf16cat" (fast with SOLOv2's category branch in bf16: what
  // autocast_fp32_category costs).
  std::vector<std::string> graphs{"fast"};
  bool bf16_gn = false;  // --bf16: GroupNorm parameters stored in bf16 (GN computed in bf16)
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, sep);)
    if (!item.empty()) out.push_back(item);
  return out;
}

void usage(const char* argv0) {
  std::printf(
      "usage: %s [--model M[,M...]|all] [--reps N] [--warmup N] [--threads N] [--batch N]\n"
      "          [--candidates N] [--post-sweep N,N,...] [--bf16] [--fp16] [--device cpu|cuda]\n"
      "          [--profile] [--seed N] [--graph exact|fast|fast-bf16ends|fast-bf16cat,...] [--bf16-gn]\n"
      "--bf16/--fp16: also run under autocast of that dtype (fp16: CUDA only)\n"
      "--graph: exact = mmdetection's numerics; fast (default) = BatchNorm folded + channels-last\n"
      "         (+ under autocast: stem, neck outputs and SOLOv2's category branch in fp32);\n"
      "         fast-bf16ends = fast with stem and neck outputs in bf16; fast-bf16cat = fast with\n"
      "         the category branch in bf16\n"
      "models: solov2_r50 (1333x800, padded 1344x800), solov2_light_r18 (768x448),\n"
      "        queryinst_r50 (1333x800, padded 1344x800), solov2_r101_dcn (1333x800; not in 'all'\n"
      "        nor in the default list)\n",
      argv0);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error("missing value after " + k);
      return argv[++i];
    };
    if (k == "--model") {
      std::string v = value();
      if (v != "all") a.models = split(v, ',');
    } else if (k == "--reps") {
      a.reps = std::stoi(value());
    } else if (k == "--warmup") {
      a.warmup = std::stoi(value());
    } else if (k == "--threads") {
      a.threads = std::stoi(value());
    } else if (k == "--batch") {
      a.batch = std::stoi(value());
    } else if (k == "--candidates") {
      a.candidates = std::stoll(value());
    } else if (k == "--post-sweep") {
      for (const auto& s : split(value(), ',')) a.post_sweep.push_back(std::stoll(s));
    } else if (k == "--bf16") {
      a.bf16 = true;
    } else if (k == "--fp16") {
      a.fp16 = true;
    } else if (k == "--device") {
      a.device = value();
    } else if (k == "--profile") {
      a.profile = true;
    } else if (k == "--bf16-gn") {
      a.bf16_gn = true;
    } else if (k == "--graph") {
      a.graphs = split(value(), ',');
      for (const auto& g : a.graphs)
        if (g != "exact" && g != "fast" && g != "fast-bf16ends" && g != "fast-bf16cat")
          throw std::runtime_error("--graph: exact, fast, fast-bf16ends or fast-bf16cat, got '" + g + "'");
    } else if (k == "--seed") {
      a.seed = std::stoull(value());
    } else if (k == "-h" || k == "--help") {
      usage(argv[0]);
      std::exit(0);
    } else {
      throw std::runtime_error("unknown option " + k);
    }
  }
  if (a.reps < 1 || a.warmup < 0 || a.batch < 1 || a.candidates < 0)
    throw std::runtime_error("--reps and --batch must be >= 1, --warmup and --candidates >= 0");
  if (a.device != "cpu" && a.device != "cuda") throw std::runtime_error("--device must be cpu or cuda");
  if (a.device == "cuda" && !torch::cuda::is_available())
    throw std::runtime_error("--device cuda: no CUDA device (or a LibTorch without CUDA)");
  if (a.fp16 && a.device != "cuda") throw std::runtime_error("--fp16 needs --device cuda (CPU autocast: --bf16)");
  if (a.profile && a.device != "cpu") throw std::runtime_error("--profile is CPU-only");
  return a;
}

// ---------------------------------------------------------------- models

struct Variant {
  std::string name;
  ModelSpec spec;
  int64_t img_w, img_h;  // img_shape (resized, unpadded); ori_shape = img_shape
};

int64_t pad32(int64_t v) { return (v + 31) / 32 * 32; }

Variant make_variant(const std::string& name) {
  Variant v;
  v.name = name;
  if (name == "solov2_r50") {
    v.spec.kind = ModelKind::solov2;  // SOLOv2Options defaults = solov2_r50_fpn_1x_coco
    v.img_w = 1333;
    v.img_h = 800;
  } else if (name == "solov2_light_r18") {
    // mmdet solov2-light_r18_fpn_ms-3x_coco (test scale (768, 448)).
    v.spec.kind = ModelKind::solov2;
    SOLOv2Options& o = v.spec.solov2;
    o.backbone.resnet.depth = 18;
    o.neck.in_channels = {64, 128, 256, 512};
    o.mask_head.stacked_convs = 2;
    o.mask_head.feat_channels = 256;
    o.mask_head.scale_ranges = {{1, 56}, {28, 112}, {56, 224}, {112, 448}, {224, 896}};
    o.mask_head.mask_feature_head.out_channels = 128;
    v.img_w = 768;
    v.img_h = 448;
  } else if (name == "solov2_r101_dcn") {
    // mmdet solov2_r101-dcn_fpn_ms-3x_coco: DCNv2 in conv2 of ResNet-101 stages
    // 2-4, in every head tower conv and every mask-feature conv (test scale
    // (1333, 800)).
    v.spec.kind = ModelKind::solov2;
    SOLOv2Options& o = v.spec.solov2;
    o.backbone.resnet.depth = 101;
    o.backbone.resnet.dcn_type = "DCNv2";
    o.backbone.resnet.stage_with_dcn = {false, true, true, true};
    o.mask_head.dcn_type = "DCNv2";
    o.mask_head.dcn_apply_to_all_conv = true;
    o.mask_head.mask_feature_head.conv_type = "DCNv2";
    v.img_w = 1333;
    v.img_h = 800;
  } else if (name == "queryinst_r50") {
    v.spec.kind = ModelKind::queryinst;
    v.spec.queryinst = queryinst_r50_fpn_options();
    v.img_w = 1333;
    v.img_h = 800;
  } else {
    throw std::runtime_error("unknown model '" + name + "'");
  }
  return v;
}

Batch make_batch(const Variant& v, int batch, const c10::Device& device) {
  const int64_t ph = pad32(v.img_h), pw = pad32(v.img_w);
  Batch b;
  // Normalised images ~ N(0, 1), zero padding as DetDataPreprocessor pads.
  b.images = at::zeros({batch, 3, ph, pw});
  b.images.slice(2, 0, v.img_h).slice(3, 0, v.img_w).normal_();
  b.images = b.images.to(device);
  for (int i = 0; i < batch; ++i) {
    ImageMeta m;
    m.image_id = i;
    m.ori_h = m.img_h = v.img_h;
    m.ori_w = m.img_w = v.img_w;
    m.pad_h = ph;
    m.pad_w = pw;
    b.metas.push_back(m);
  }
  return b;
}

// ---------------------------------------------------------------- timing

// Stage name -> per-repetition milliseconds, in first-seen order.
struct Timings {
  std::vector<std::string> order;
  std::map<std::string, std::vector<double>> ms;
  void add(const std::string& stage, double v) {
    if (!ms.count(stage)) order.push_back(stage);
    ms[stage].push_back(v);
  }
  double med(const std::string& stage) const {
    auto it = ms.find(stage);
    return it == ms.end() ? NAN : median(it->second);
  }
  double min(const std::string& stage) const {
    auto it = ms.find(stage);
    return it == ms.end() ? NAN : minimum(it->second);
  }
};

// Times fn() (a user scope of that name for --profile); returns its result.
// Errors are rethrown with the stage's name.
template <typename F>
auto timed(Timings* t, const std::string& stage, F&& fn) {
  RECORD_USER_SCOPE(stage);
  device_sync();
  auto t0 = Clock::now();
  try {
    auto r = fn();
    device_sync();
    if (t) t->add(stage, ms_since(t0));
    return r;
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (std::getenv("BENCH_FULL_ERRORS")) std::fprintf(stderr, "%s: %s\n", stage.c_str(), msg.c_str());
    throw std::runtime_error(stage + ": " + msg.substr(0, msg.find('\n')));
  }
}

// Number of detections over a batch's results.
int64_t count_dets(const std::vector<Instances>& r) {
  int64_t n = 0;
  for (const auto& x : r) n += x.size();
  return n;
}

// ---- SOLOv2

// Backbone, neck, head, post-processing and predict() of one repetition.
// The neck as extract_feat runs it (DetectorImpl::backbone_neck_features):
// its outputs back in NCHW when the model runs channels-last
// (DetectorImpl::set_channels_last), and in the images' dtype (fp32) under
// autocast when the model keeps fp32 features (DetectorImpl::set_fp32_features).
std::vector<at::Tensor> neck_nchw(const DetectorImpl& m, FPNImpl& neck, const std::vector<at::Tensor>& c,
                                  const at::Tensor& images) {
  std::vector<at::Tensor> p = neck.forward(c);
  if (m.runs_channels_last(images)) DetectorImpl::to_nchw(p);
  if (m.fp32_features() && !m.is_training())
    for (at::Tensor& t : p)
      if (t.scalar_type() != images.scalar_type()) t = t.to(images.scalar_type());
  return p;
}

int64_t solov2_rep(SOLOv2Impl& m, const Batch& batch, Timings* t) {
  auto c = timed(t, "backbone", [&] { return m.backbone->forward(m.backbone_input(batch.images)); });
  auto p = timed(t, "neck", [&] { return neck_nchw(m, *m.neck, c, batch.images); });
  auto out = timed(t, "head (kernel + category + mask feature branches)",
                   [&] { return m.mask_head->forward(p); });
  // Aside row (not summed): the share of the unified mask feature branch.
  auto mf = timed(t, "(of which: mask feature branch, timed alone)",
                  [&] { return m.mask_head->mask_feature_head->forward(p); });
  auto res = timed(t, "post-processing",
                   [&] { return solov2_postprocess(out, batch.metas, m.mask_head->options()); });
  auto res2 = timed(t, "predict()", [&] { return m.predict(batch); });
  (void)mf;
  (void)res2;
  return count_dets(res);
}

// ---- QueryInst

int64_t queryinst_rep(QueryInstImpl& m, const Batch& batch, Timings* t) {
  auto& rh = *m.roi_head;
  const auto& o = rh.options();
  auto c = timed(t, "backbone", [&] { return m.backbone->forward(m.backbone_input(batch.images)); });
  auto p = timed(t, "neck", [&] { return neck_nchw(m, *m.neck, c, batch.images); });
  std::vector<std::pair<int64_t, int64_t>> hw;
  for (const auto& meta : batch.metas) hw.emplace_back(meta.img_h, meta.img_w);
  auto props = timed(t, "proposals (embedding)", [&] { return m.rpn_head->forward(hw); });
  at::Tensor boxes = props.bboxes, obj = props.features;
  SparseStageOutput out;
  for (int s = 0; s < o.num_stages; ++s) {
    out = timed(t, "stage " + std::to_string(s) + " (RoIAlign + DII head)",
                [&] { return rh.stage_forward(s, p, boxes, obj); });
    obj = out.obj_feat;
    boxes = out.bboxes;
  }
  const int64_t b = boxes.size(0), n = boxes.size(1);
  at::Tensor mask_logits = timed(t, "mask head (RoIAlign + dynamic mask head)", [&] {
    // [B,N,4] -> [B*N,5] RoIs with the image index first (as SparseRoIHead does).
    auto idx = at::arange(b, boxes.options()).view({b, 1, 1}).expand({b, n, 1});
    auto rois = at::cat({idx, boxes}, 2).view({b * n, 5});
    return rh.mask_forward(o.num_stages - 1, p, rois, out.attn_feats.reshape({b * n, -1}));
  });
  auto res = timed(t, "post-processing", [&] {
    std::vector<Instances> r;
    for (int64_t i = 0; i < b; ++i)
      r.push_back(queryinst_postprocess(out.cls_score[i], boxes[i], mask_logits.narrow(0, i * n, n),
                                        batch.metas[i], o.max_per_img, o.mask_thr_binary));
    return r;
  });
  auto res2 = timed(t, "predict()", [&] { return m.predict(batch); });
  (void)res2;
  return count_dets(res);
}

// ---------------------------------------------------------------- driver

// LibTorch 1.13's CPU GroupNorm kernel rejects a bf16 input with fp32 affine
// parameters ("expected scalar type BFloat16 but found Float" from
// native_group_norm), and 1.13's CPU autocast does not run group_norm in fp32,
// so SOLOv2's GN layers fail under bf16 autocast. For the bf16 run the
// benchmark stores the GroupNorm parameters in `dtype` (every GN input is a
// conv output, hence bf16 under autocast) and restores fp32 afterwards.
// Returns the number of GroupNorm modules converted.
int set_group_norm_dtype(torch::nn::Module& model, at::ScalarType dtype) {
  int n = 0;
  for (const auto& m : model.modules(/*include_self=*/false)) {
    if (auto* gn = dynamic_cast<torch::nn::GroupNormImpl*>(m.get())) {
      gn->to(dtype);
      ++n;
    }
  }
  return n;
}

struct Result {
  std::string model, input, precision;
  int64_t params = 0;
  Timings t;
  int64_t detections = 0;
  double peak_rss_mib = NAN;
  double peak_gpu_mib = NAN;  // --device cuda: the caching allocator's peak allocated bytes
  std::string error;  // non-empty: the run failed (e.g. an op without bf16 support)
};

// Operator breakdown of one repetition: per stage, the inclusive time of its
// direct child operators (aten::conv2d, aten::upsample_bilinear2d, ...).
struct Profile {
  std::string precision;
  std::vector<std::string> stages;
  std::map<std::string, double> stage_ms;
  std::map<std::string, std::map<std::string, double>> op_ms;
  std::string error;
};

Profile profile_rep(const std::vector<std::string>& stages, AmpDtype amp,
                    const std::function<int64_t(Timings*)>& rep) {
  Profile p;
  p.precision = amp == AmpDtype::bf16 ? "bf16 autocast" : "fp32";
  p.stages = stages;
#if BENCH_HAVE_PROFILER
  namespace prof = torch::autograd::profiler;
  namespace pimpl = torch::profiler::impl;
  prof::thread_event_lists lists;
  {
    AutocastGuard ac(c10::DeviceType::CPU, amp);
    prof::enableProfilerLegacy(pimpl::ProfilerConfig(pimpl::ProfilerState::CPU));
    try {
      rep(nullptr);
    } catch (const std::exception& e) {
      p.error = e.what();
    }
    lists = prof::disableProfilerLegacy();
    if (amp != AmpDtype::none) at::autocast::clear_cache();
  }
  const std::set<std::string> known(stages.begin(), stages.end());
  for (const auto& list : lists) {
    std::vector<const prof::LegacyEvent*> stack;
    std::string open_ranges;  // after a failure: the operator chain that threw
    auto note_open = [&] {
      if (p.error.empty() || stack.empty() || !known.count(stack[0]->name())) return;
      std::string chain;
      for (const auto* ev : stack) chain += std::string(chain.empty() ? "" : " > ") + ev->name();
      open_ranges = chain;  // the chain at the last push: where it threw
    };
    for (const auto& e : list) {
      if (e.kind() == prof::EventKind::PushRange) {
        stack.push_back(&e);
        note_open();
      } else if (e.kind() == prof::EventKind::PopRange && !stack.empty()) {
        const prof::LegacyEvent* b = stack.back();
        stack.pop_back();
        const double ms = b->cpuElapsedUs(e) / 1000.0;
        if (stack.empty() && known.count(b->name())) {
          p.stage_ms[b->name()] += ms;
        } else if (stack.size() == 1 && known.count(stack[0]->name())) {
          p.op_ms[stack[0]->name()][b->name()] += ms;
        }
      }
    }
    if (!open_ranges.empty()) p.error += " [last operator chain entered: " + open_ranges + "]";
  }
#else
  (void)amp;
  (void)rep;
  p.error = "--profile needs LibTorch 1.13's legacy profiler API";
#endif
  return p;
}

void print_profile(const std::string& model, const Profile& p, int top) {
  std::printf("\n### %s: operators of one profiled repetition (%s; inclusive ms, top %d per stage)\n\n", model.c_str(),
              p.precision.c_str(), top);
  if (!p.error.empty()) std::printf("The profiled repetition failed: %s\n\n", p.error.c_str());
  std::printf("| stage | stage ms | operator | ms | %% of stage |\n|---|---:|---|---:|---:|\n");
  for (const auto& st : p.stages) {
    if (st == "predict()" || !p.stage_ms.count(st)) continue;
    const double total = p.stage_ms.at(st);
    std::vector<std::pair<double, std::string>> ops;
    double covered = 0;
    if (p.op_ms.count(st))
      for (const auto& kv : p.op_ms.at(st)) ops.emplace_back(kv.second, kv.first);
    std::sort(ops.rbegin(), ops.rend());
    for (int i = 0; i < static_cast<int>(ops.size()) && i < top; ++i) {
      char stage_ms[32] = "";
      if (i == 0) std::snprintf(stage_ms, sizeof stage_ms, "%.1f", total);
      std::printf("| %s | %s | %s | %.1f | %.0f |\n", i == 0 ? st.c_str() : "", stage_ms, ops[i].second.c_str(),
                  ops[i].first, 100.0 * ops[i].first / total);
      covered += ops[i].first;
    }
    if (ops.empty() && !p.error.empty()) continue;
    if (ops.empty()) std::printf("| %s | %.1f | (no operators) | | |\n", st.c_str(), total);
    else if (total - covered > 0.05 * total)
      std::printf("| | | (rest) | %.1f | %.0f |\n", total - covered, 100.0 * (total - covered) / total);
  }
}

struct SweepRow {
  int64_t candidates, detections;
  double ms;
};

std::string precision_name(AmpDtype amp) {
  switch (amp) {
    case AmpDtype::none: return "fp32";
    case AmpDtype::bf16: return "bf16 autocast";
    case AmpDtype::fp16: return "fp16 autocast";
  }
  return "?";
}

Result run_variant(const Args& a, const Variant& v, DetectorImpl& model, const Batch& batch, AmpDtype amp,
                   const std::function<int64_t(Timings*)>& rep) {
  Result r;
  r.model = v.name;
  r.input = std::to_string(pad32(v.img_w)) + "x" + std::to_string(pad32(v.img_h)) + " (img " +
            std::to_string(v.img_w) + "x" + std::to_string(v.img_h) + ")";
  r.precision = precision_name(amp);
  r.params = count_parameters(model);
  const bool cuda = batch.images.is_cuda();
  reset_peak_rss();
  if (cuda) {
    device_sync();
    cuda_peak_memory_mb_and_reset(batch.images.get_device());
  }
  try {
    for (int i = 0; i < a.warmup + a.reps; ++i) {
      AutocastGuard ac(cuda ? c10::DeviceType::CUDA : c10::DeviceType::CPU, amp);
      int64_t dets = rep(i < a.warmup ? nullptr : &r.t);
      // torch.autocast drops its weight-cast cache when its context exits.
      if (amp != AmpDtype::none) at::autocast::clear_cache();
      r.detections = dets;
    }
  } catch (const std::exception& e) {
    r.error = e.what();
    auto nl = r.error.find('\n');
    if (nl != std::string::npos) r.error = r.error.substr(0, nl);
  }
  r.peak_rss_mib = peak_rss_kb() / 1024.0;
  if (cuda) {
    device_sync();
    const int64_t mb = cuda_peak_memory_mb_and_reset(batch.images.get_device());
    if (mb >= 0) r.peak_gpu_mib = static_cast<double>(mb);
  }
  return r;
}

std::vector<SweepRow> solov2_post_sweep(const Args& a, SOLOv2Impl& m, const Batch& batch) {
  std::vector<SweepRow> rows;
  if (a.post_sweep.empty()) return rows;
  SOLOv2HeadOutputs out = m.mask_head->forward(m.extract_feat(batch.images));
  const auto& o = m.mask_head->options();
  for (int64_t target : a.post_sweep) {
    // Same calibration as calibrate_solov2_candidates, applied to a copy of the head outputs.
    int64_t k = 0;
    const double shift = candidate_logit_shift(out.cls_preds, target, o.test_cfg.score_thr, &k);
    SOLOv2HeadOutputs o2 = out;
    for (auto& c : o2.cls_preds) {
      c = c.clone();
      c.select(1, 0).add_(shift);
    }
    std::vector<double> ms;
    int64_t dets = 0;
    for (int i = 0; i < a.warmup + a.reps; ++i) {
      device_sync();
      auto t0 = Clock::now();
      dets = count_dets(solov2_postprocess(o2, batch.metas, o));
      device_sync();
      if (i >= a.warmup) ms.push_back(ms_since(t0));
    }
    rows.push_back({k, dets, median(ms)});
  }
  return rows;
}

void print_stage_table(const Result& fp, const Result* bf, int batch) {
  std::printf("\n### %s, %s, batch %d\n\n", fp.model.c_str(), fp.input.c_str(), batch);
  if (bf)
    std::printf("| stage | fp32 median ms | fp32 min ms | %% of predict | %s median ms | fp32/%s |\n"
                "|---|---:|---:|---:|---:|---:|\n",
                bf->precision.substr(0, 4).c_str(), bf->precision.substr(0, 4).c_str());
  else
    std::printf("| stage | median ms | min ms | %% of predict |\n|---|---:|---:|---:|\n");
  const double total = fp.t.med("predict()");
  double sum = 0, sum_bf = 0;
  auto row = [&](const std::string& name, double med, double mn, double bmed) {
    std::printf("| %s | %.1f | %.1f | %.1f", name.c_str(), med, mn, 100.0 * med / total);
    if (bf) std::printf(" | %.1f | %.2f", bmed, med / bmed);
    std::printf(" |\n");
  };
  for (const auto& s : fp.t.order) {
    if (s == "predict()") continue;
    const bool aside = s[0] == '(';
    double bmed = bf ? bf->t.med(s) : NAN;  // NaN for stages a failed bf16 run never reached
    row(s, fp.t.med(s), fp.t.min(s), bmed);
    if (!aside) {
      sum += fp.t.med(s);
      sum_bf += bmed;
    }
  }
  if (bf) {
    if (!bf->error.empty()) sum_bf = NAN;
    std::printf("| sum of stages | %.1f | | %.1f | %.1f | %.2f |\n", sum, 100.0 * sum / total, sum_bf,
                sum / sum_bf);
  } else {
    std::printf("| sum of stages | %.1f | | %.1f |\n", sum, 100.0 * sum / total);
  }
  row("**predict()**", total, fp.t.min("predict()"), bf && bf->error.empty() ? bf->t.med("predict()") : NAN);
  std::printf("\n%lld detections per repetition (batch total)", static_cast<long long>(fp.detections));
  if (bf && !bf->error.empty()) std::printf("; %s run failed: %s", bf->precision.c_str(), bf->error.c_str());
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  try {
    a = parse_args(argc, argv);
    for (const auto& name : a.models) make_variant(name);  // validate names early
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_models: %s\n", e.what());
    usage(argv[0]);
    return 2;
  }
  const int threads = configure_threads(a.threads);
  at::manual_seed(a.seed);
  const c10::Device device(a.device == "cuda" ? c10::kCUDA : c10::kCPU);
  g_cuda_sync = device.is_cuda();

  std::printf("# instseg model benchmark (%s inference)\n\n", device.is_cuda() ? "CUDA" : "CPU");
  std::printf("- CPU: %s, %d CPUs available; LibTorch %s, intra-op threads %d\n", cpu_model_name().c_str(),
              available_cpus(), TORCH_VERSION, threads);
  if (device.is_cuda())
    std::printf("- device cuda:0 (%d CUDA device(s)); stages timed between device synchronisations; peak GPU "
                "memory = the caching allocator's peak allocated bytes\n",
                static_cast<int>(torch::cuda::device_count()));
  std::printf("- LibTorch build: %s\n", torch_backend_summary().c_str());
  std::printf("- warm-up %d, timed repetitions %d (median and min reported), batch %d, eval mode, no grad\n",
              a.warmup, a.reps, a.batch);
  std::printf("- SOLOv2 post-processing workload: %lld (cell, class) candidates above score_thr per image\n",
              static_cast<long long>(a.candidates));
  std::printf("- load average at start: %s\n", read_first_line("/proc/loadavg").c_str());
  std::fflush(stdout);

  torch::NoGradGuard no_grad;
  std::vector<std::pair<Result, std::vector<Result>>> results;  // (fp32, autocast runs)
  std::vector<std::pair<std::string, std::vector<SweepRow>>> sweeps;
  std::vector<std::pair<std::string, Profile>> profiles;
  std::vector<std::string> gn_converted;
  for (const auto& name : a.models) {
    Variant v = make_variant(name);
    Batch batch = make_batch(v, a.batch, device);
    std::shared_ptr<DetectorImpl> model = build_model(v.spec);
    model->to(device);
    model->eval();
    std::function<int64_t(Timings*)> rep;
    if (auto* s = dynamic_cast<SOLOv2Impl*>(model.get())) {
      calibrate_solov2_candidates(*s, batch.images, a.candidates);
      rep = [s, &batch](Timings* t) { return solov2_rep(*s, batch, t); };
    } else if (auto* q = dynamic_cast<QueryInstImpl*>(model.get())) {
      rep = [q, &batch](Timings* t) { return queryinst_rep(*q, batch, t); };
    }
    for (size_t gi = 0; gi < a.graphs.size(); ++gi) {
      const std::string& graph = a.graphs[gi];
      InferenceGraphOptions go = graph == "exact" ? InferenceGraphOptions::exact() : InferenceGraphOptions{};
      if (graph == "fast-bf16ends") go.autocast_fp32_ends = false;
      if (graph == "fast-bf16cat") go.autocast_fp32_category = false;
      prepare_for_inference(*model, device, go);
      const std::string label = name + " [" + graph + "]";
      Result fp = run_variant(a, v, *model, batch, AmpDtype::none, rep);
      fp.model = label;
      std::vector<Result> reduced;
      if (a.profile && fp.error.empty()) profiles.emplace_back(label, profile_rep(fp.t.order, AmpDtype::none, rep));
      if (a.fp16) reduced.push_back(run_variant(a, v, *model, batch, AmpDtype::fp16, rep));
      if (a.bf16) {
        // GroupNorm keeps its fp32 parameters and normalises in fp32, as the
        // library's bf16 path does (layers/autocast_norm.h); --bf16-gn stores
        // them in bf16 instead (the first sessions' workaround, for comparison).
        const int gn = device.is_cpu() && a.bf16_gn ? set_group_norm_dtype(*model, at::kBFloat16) : 0;
        if (gn > 0 && gi == 0) gn_converted.push_back(name + " (" + std::to_string(gn) + " GroupNorm layers)");
        reduced.push_back(run_variant(a, v, *model, batch, AmpDtype::bf16, rep));
        if (a.profile) profiles.emplace_back(label, profile_rep(reduced.back().t.order, AmpDtype::bf16, rep));
        if (gn > 0) set_group_norm_dtype(*model, at::kFloat);
      }
      for (Result& r : reduced) r.model = label;
      if (!fp.error.empty()) std::fprintf(stderr, "bench_models: %s failed: %s\n", label.c_str(), fp.error.c_str());
      if (gi == 0)
        if (auto* s = dynamic_cast<SOLOv2Impl*>(model.get())) sweeps.emplace_back(name, solov2_post_sweep(a, *s, batch));
      results.emplace_back(std::move(fp), std::move(reduced));
    }
    model.reset();
  }

  std::printf("\n## Summary\n\n| model | input (padded) | params | device | precision | threads | batch | predict ms "
              "(median) | images/s | peak RSS MiB | peak GPU MiB |\n|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& pr : results) {
    std::vector<const Result*> rs{&pr.first};
    for (const auto& r : pr.second) rs.push_back(&r);
    for (const Result* r : rs) {
      const double ms = r->error.empty() ? r->t.med("predict()") : NAN;
      std::printf("| %s | %s | %.2f M | %s | %s | %d | %d | %.1f | %.2f | %.0f | %.0f |\n", r->model.c_str(),
                  r->input.c_str(), r->params / 1e6, a.device.c_str(), r->precision.c_str(), threads, a.batch, ms,
                  1000.0 * a.batch / ms, r->peak_rss_mib, r->peak_gpu_mib);
    }
  }
  if (!gn_converted.empty()) {
    std::printf("\nbf16 runs: GroupNorm affine parameters stored in bf16 (LibTorch 1.13's CPU GroupNorm rejects a "
                "bf16 input with fp32 parameters under autocast):");
    for (const auto& g : gn_converted) std::printf(" %s", g.c_str());
    std::printf("\n");
  }
  for (const auto& pr : results) {
    if (!pr.first.error.empty()) continue;
    if (pr.second.empty()) print_stage_table(pr.first, nullptr, a.batch);
    for (const auto& r : pr.second) print_stage_table(pr.first, &r, a.batch);
  }
  for (const auto& sw : sweeps) {
    if (sw.second.empty()) continue;
    std::printf("\n### %s post-processing vs candidates above score_thr (fp32)\n\n"
                "| candidates | detections | post-processing ms (median) |\n|---:|---:|---:|\n",
                sw.first.c_str());
    for (const auto& r : sw.second)
      std::printf("| %lld | %lld | %.1f |\n", static_cast<long long>(r.candidates),
                  static_cast<long long>(r.detections), r.ms);
  }
  for (const auto& pr : profiles) print_profile(pr.first, pr.second, 8);
  std::printf("\n- load average at end: %s\n", read_first_line("/proc/loadavg").c_str());
  return 0;
}
