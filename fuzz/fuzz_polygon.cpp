// Polygon rasteriser (pycocotools' rleFrPoly): any vertices (NaN, inf, 1e9
// included) and any size must give an RLE whose runs cover exactly h x w, or
// instseg::Error; the outline walk is refused before it outgrows its budget.
#include "instseg/core/check.h"
#include "instseg/eval/rle.h"

#include <cstdint>
#include <cstring>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  // Byte 0 picks how coordinates are read: raw doubles (any bit pattern) or
  // int16 / 4 (dense, mostly near the image, where the rounding rules matter).
  const bool raw = data[0] & 1;
  uint16_t hw[2];
  std::memcpy(hw, data + 1, 4);
  const int64_t h = hw[0] % 2048, w = hw[1] % 2048;
  std::vector<double> xy;
  for (size_t p = 5; p < size;) {
    if (raw) {
      if (size - p < 8) break;
      double v;
      std::memcpy(&v, data + p, 8);
      xy.push_back(v);
      p += 8;
    } else {
      if (size - p < 2) break;
      int16_t v;
      std::memcpy(&v, data + p, 2);
      xy.push_back(v / 4.0);
      p += 2;
    }
  }
  using namespace instseg;
  try {
    const rle::Rle r = rle::from_polygon(xy, h, w);
    uint64_t total = 0;
    for (uint32_t c : r.counts) total += c;
    if (total != static_cast<uint64_t>(h * w)) __builtin_trap();
    // Two parts (the second one shifted): the union of frPyObjects + merge.
    std::vector<double> shifted = xy;
    for (double& v : shifted) v += 1.5;
    const rle::Rle u = rle::from_polygons({xy, shifted}, h, w);
    if (rle::area(u) < rle::area(r)) __builtin_trap();
    double bb[4];
    rle::to_bbox(u, bb);
  } catch (const Error&) {
  }
  return 0;
}
