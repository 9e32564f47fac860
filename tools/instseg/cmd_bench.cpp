// `instseg bench CONFIG [CKPT] [--images DIR | --shape HxW] [--batch B] [--iters N] [--warmup W]
// [--device D] [--dtype fp32|bf16|fp16] [--exact] [--candidates N] [--json FILE]`: the inference path timed stage
// by stage (api/benchmark.h); this file parses and prints.
#include "commands.h"

#include "instseg/api/benchmark.h"
#include "instseg/core/atomic_file.h"
#include "instseg/core/check.h"

#include <iostream>
#include <memory>

namespace instseg::cli {
namespace {

struct BenchArgs {
  std::string config, checkpoint, shape = "800x1333", json;
  BenchmarkOptions o;
};

void parse_shape(const std::string& s, BenchmarkOptions& o) {
  const size_t x = s.find('x');
  long long h = 0, w = 0;
  char tail = 0;
  INSTSEG_CHECK(x != std::string::npos && std::sscanf(s.c_str(), "%lldx%lld%c", &h, &w, &tail) == 2 && h > 0 &&
                    w > 0 && h <= 16384 && w <= 16384,
                "bench: --shape must be HxW with 1..16384 pixels each (e.g. 800x1333), got '", s, "'");
  o.height = h;
  o.width = w;
}

void run_bench(BenchArgs& a) {
  if (a.o.images.empty()) parse_shape(a.shape, a.o);
  const BenchmarkReport r = run_benchmark(a.config, a.checkpoint, a.o);
  std::cout << benchmark_table(r) << std::flush;
  if (!a.json.empty()) write_file_atomically(a.json, benchmark_json(r));
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand("bench", command_info("bench").description);
  cmd->add_option("config", a->config, "config file (.yaml / .json; mmdetection schema)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("checkpoint", a->checkpoint, "weights (.pth); none: random weights (timing only)")
      ->check(CLI::ExistingFile);
  auto* images = cmd->add_option("--images", a->o.images, "a directory of images, cycled over (decoding is timed)");
  cmd->add_option("--shape", a->shape, "a synthetic HxW image instead of --images")
      ->capture_default_str()
      ->excludes(images);
  cmd->add_option("--batch", a->o.batch, "images per network pass")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--iters", a->o.iters, "timed iterations")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--warmup", a->o.warmup, "untimed iterations first")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--device", a->o.device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  cmd->add_option("--dtype", a->o.dtype, "fp32, or autocast to bf16 (CPU with native bf16, CUDA) / fp16 (CUDA)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  cmd->add_flag("--exact", a->o.exact, "mmdetection's numerics bit for bit (no BatchNorm folding, no channels-last)");
  cmd->add_option("--score-thr", a->o.score_thr, "detections counted above this score")->capture_default_str();
  cmd->add_option("--candidates", a->o.candidates,
                  "SOLOv2: calibrate the head to N (cell, class) candidates above test_cfg.score_thr "
                  "(default: 300 with random weights, none with a checkpoint)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--json", a->json, "also write the report as JSON here");
  cmd->add_option("--cfg-options", a->o.cfg_options, "override config keys: model.test_cfg.max_per_img=100 ...")
      ->expected(0, -1);
  cmd->footer("Threads: the global --threads N. Example:\n"
              "  instseg bench configs/solov2/solov2_r50_fpn_1x_coco.yaml --shape 800x1333 --iters 5 --dtype bf16");
  cmd->callback([a]() { run_bench(*a); });
}

}  // namespace instseg::cli
