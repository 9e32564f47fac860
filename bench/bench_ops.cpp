// QueryInst op micro-benchmarks (Google Benchmark), CPU:
//  - RoIAlign forward / backward at QueryInst R50 sizes (100 RoIs x 256 ch, 7x7
//    box RoIs on a P2-sized map, 14x14 mask RoIs), and the backward at the
//    nuclei QueryInst training sizes (600 small RoIs x 128 ch);
//  - linear_sum_assignment on 100 x G costs (one image of Hungarian matching).
#include "instseg/matchers/hungarian.h"
#include "instseg/ops/roi_align.h"

#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

namespace {

at::Tensor random_rois(int64_t k, double h, double w) {
  auto xy = at::rand({k, 2}) * at::tensor({w * 0.8, h * 0.8});
  auto wh = at::rand({k, 2}) * at::tensor({w * 0.3, h * 0.3}) + 8;
  return at::cat({at::zeros({k, 1}), xy, xy + wh}, 1).to(at::kFloat);
}

void BM_RoIAlignForward(benchmark::State& state) {
  at::manual_seed(0);
  const int64_t out = state.range(0);
  auto feat = at::randn({1, 256, 200, 336});
  auto rois = random_rois(100, 800, 1344);
  instseg::RoIAlignOptions o;
  o.output_h = o.output_w = out;
  o.spatial_scale = 0.25;
  o.sampling_ratio = 2;
  for (auto _ : state) benchmark::DoNotOptimize(instseg::roi_align_forward(feat, rois, o));
}
BENCHMARK(BM_RoIAlignForward)->Arg(7)->Arg(14)->Unit(benchmark::kMillisecond);

void BM_RoIAlignBackward(benchmark::State& state) {
  at::manual_seed(0);
  const int64_t out = state.range(0);
  auto rois = random_rois(100, 800, 1344);
  auto g = at::randn({100, 256, out, out});
  instseg::RoIAlignOptions o;
  o.output_h = o.output_w = out;
  o.spatial_scale = 0.25;
  o.sampling_ratio = 2;
  for (auto _ : state)
    benchmark::DoNotOptimize(instseg::roi_align_backward(g, rois, {1, 256, 200, 336}, o));
}
BENCHMARK(BM_RoIAlignBackward)->Arg(7)->Arg(14)->Unit(benchmark::kMillisecond);

// QueryInst training on nuclei (configs/queryinst/queryinst_r18_fpn_nuclei-scratch.yaml):
// 2 images of 512 x 512, 128 channels on P2 (128 x 128), 300 RoIs per image of
// 16..48 px (a nucleus is ~22 px): small RoIs put many samples on the same pixels.
void BM_RoIAlignBackwardNuclei(benchmark::State& state) {
  at::manual_seed(0);
  const int64_t out = state.range(0);
  auto a = random_rois(300, 512, 512), b = random_rois(300, 512, 512);
  b.select(1, 0).fill_(1);
  auto rois = at::cat({a, b});
  // random_rois' sizes are 8..0.3*512+8 px: shrink them to 16..48 px.
  auto wh = (at::rand({600, 2}) * 32 + 16).to(at::kFloat);
  rois.slice(1, 3, 5).copy_(rois.slice(1, 1, 3) + wh);
  auto g = at::randn({600, 128, out, out});
  instseg::RoIAlignOptions o;
  o.output_h = o.output_w = out;
  o.spatial_scale = 0.25;
  o.sampling_ratio = 2;
  for (auto _ : state)
    benchmark::DoNotOptimize(instseg::roi_align_backward(g, rois, {2, 128, 128, 128}, o));
}
BENCHMARK(BM_RoIAlignBackwardNuclei)->Arg(7)->Arg(14)->Unit(benchmark::kMillisecond);

void BM_LinearSumAssignment(benchmark::State& state) {
  at::manual_seed(0);
  auto cost = at::randn({100, state.range(0)}, at::kDouble);
  for (auto _ : state) benchmark::DoNotOptimize(instseg::linear_sum_assignment(cost));
}
BENCHMARK(BM_LinearSumAssignment)->Arg(10)->Arg(50)->Arg(100)->Arg(300)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
