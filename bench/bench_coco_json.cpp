// Manual benchmark: parse time and peak RSS of instseg::load_coco_json on a
// large instances file (see docs/benchmarks/coco_json.md).
//
//   python3 tests/data/io/make_big_coco.py /tmp/big_coco.json 448
//   build/bench/bench_coco_json /tmp/big_coco.json
#include <sys/resource.h>

#include <chrono>
#include <cstdio>

#include "instseg/io/coco_json.h"

static long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;  // KiB on Linux
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s instances.json\n", argv[0]);
    return 2;
  }
  const long before = peak_rss_kb();
  const auto t0 = std::chrono::steady_clock::now();
  const instseg::CocoFile f = instseg::load_coco_json(argv[1]);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  size_t coords = 0;
  for (const auto& a : f.annotations)
    for (const auto& p : a.segmentation.polygons) coords += p.size();
  std::printf("%s: %zu images, %zu annotations, %zu polygon coordinates\n", argv[1], f.images.size(),
              f.annotations.size(), coords);
  std::printf("parse %.2f s; peak RSS %.1f MiB (%.1f MiB before parsing)\n", s, peak_rss_kb() / 1024.0,
              before / 1024.0);
  return 0;
}
