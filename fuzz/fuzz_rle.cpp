// Compressed RLE strings (pycocotools' rleFrString) with a fuzzed size:
// from_string must return or throw instseg::Error, and whatever it returns
// must be usable by area / to_bbox / merge / iou / decode / to_string without
// a crash (a size claiming 1e12 pixels is refused before anything is allocated).
#include "instseg/core/check.h"
#include "instseg/eval/rle.h"

#include <cstdint>
#include <cstring>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  int32_t hw[2];
  std::memcpy(hw, data, 8);
  const std::string s(reinterpret_cast<const char*>(data + 8), size - 8);
  using namespace instseg;
  try {
    const rle::Rle r = rle::from_string(s, hw[0], hw[1]);
    (void)rle::area(r);
    double bb[4];
    rle::to_bbox(r, bb);
    const rle::Rle u = rle::merge({r, r}, false);
    (void)rle::iou({r}, {u}, {0});
    if (r.h * r.w <= (1 << 22)) {
      std::vector<uint8_t> mask(static_cast<size_t>(r.h * r.w));
      rle::decode(r, mask.data());
      // Re-encoding the decoded mask gives the same pixels.
      const rle::Rle again = rle::encode(mask.data(), r.h, r.w);
      std::vector<uint8_t> mask2(mask.size());
      rle::decode(again, mask2.data());
      if (mask != mask2) __builtin_trap();
      if (rle::from_string(rle::to_string(again), r.h, r.w).counts != again.counts) __builtin_trap();
    }
  } catch (const Error&) {
  }
  return 0;
}
