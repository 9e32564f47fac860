// DCNv2 (modulated deformable convolution) forward on CPU against a plain
// at::conv2d of the same shape, float32, at the DCN layers' sizes in SOLOv2 /
// ResNet at 1333x800 (padded to 800x1344):
//   0  ResNet stage 3 conv2 (layer3, DCN in mmdet's R101-DCN): 256 -> 256 at 50x84
//   1  ResNet stage 4 conv2 (layer4): 512 -> 512 at 25x42
//   2  SOLOv2 head tower conv (dcn_apply_to_all_conv): 512 -> 512 at the 40x40 grid
//   3  SOLOv2 mask-feature conv at 1/4 (R101-DCN conv_cfg): 256 -> 128 at 200x336
// Random offsets (std 2 px) and masks; batch 1; 3x3, padding 1. Threads: the
// --threads=N flag (default 2) sets at::set_num_threads. Run with
// --benchmark_enable_random_interleaving=true --benchmark_repetitions=N so that
// the op and its baseline alternate; see docs/benchmarks/deform_conv.md.
#include "instseg/ops/deform_conv.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace {

struct Shape {
  const char* name;
  int64_t cin, cout, h, w;
};
const Shape kShapes[] = {{"resnet_stage3_conv2", 256, 256, 50, 84},
                         {"resnet_stage4_conv2", 512, 512, 25, 42},
                         {"solov2_head_tower_40", 512, 512, 40, 40},
                         {"solov2_mask_feat_p2", 256, 128, 200, 336}};

struct Problem {
  at::Tensor x, offset, mask, weight, bias;
};

Problem make_problem(const Shape& s) {
  at::manual_seed(0);
  Problem p;
  p.x = at::randn({1, s.cin, s.h, s.w});
  p.offset = at::randn({1, 18, s.h, s.w}) * 2;
  p.mask = at::rand({1, 9, s.h, s.w});
  p.weight = at::randn({s.cout, s.cin, 3, 3}) * 0.02;
  p.bias = at::randn({s.cout});
  return p;
}

void BM_DCNv2Forward(benchmark::State& state) {
  const Shape& s = kShapes[state.range(0)];
  state.SetLabel(s.name);
  auto p = make_problem(s);
  instseg::DeformConvOptions o;
  o.padding = {1, 1};
  for (auto _ : state)
    benchmark::DoNotOptimize(
        instseg::deform_conv2d_forward(p.x, p.offset, p.mask, p.weight, p.bias, o));
}

void BM_Conv2dForward(benchmark::State& state) {
  const Shape& s = kShapes[state.range(0)];
  state.SetLabel(s.name);
  auto p = make_problem(s);
  at::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(at::conv2d(p.x, p.weight, p.bias, 1, 1));
}

// Backward of the op (input, offset, mask, weight, bias gradients) for training.
void BM_DCNv2Backward(benchmark::State& state) {
  const Shape& s = kShapes[state.range(0)];
  state.SetLabel(s.name);
  auto p = make_problem(s);
  instseg::DeformConvOptions o;
  o.padding = {1, 1};
  auto g = at::randn({1, s.cout, s.h, s.w});
  for (auto _ : state)
    benchmark::DoNotOptimize(
        instseg::deform_conv2d_backward(g, p.x, p.offset, p.mask, p.weight, true, o).input);
}

BENCHMARK(BM_DCNv2Forward)->DenseRange(0, 3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv2dForward)->DenseRange(0, 3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DCNv2Backward)->DenseRange(0, 3)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      threads = std::atoi(argv[i] + 10);
      for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
      --argc;
      break;
    }
  }
  at::set_num_threads(threads);
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("torch_threads", std::to_string(at::get_num_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
