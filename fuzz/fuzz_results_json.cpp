// COCO results JSON (the pull reader io/json_reader and the results schema on
// it): load_results_json must return or throw instseg::Error; no crash, leak,
// hang, or allocation the file does not justify. What it returns must be
// what a second reading of its own output returns (save_results_json writes
// every field it keeps).
#include "fuzz_util.h"
#include "instseg/core/check.h"
#include "instseg/io/results_json.h"

#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = instseg::fuzz::write_input_file(data, size, ".json");
  std::vector<instseg::CocoResult> rs;
  try {
    rs = instseg::load_results_json(path);
  } catch (const instseg::Error&) {
    return 0;
  }
  for (const auto& r : rs) {
    const auto& s = r.segmentation;
    if (s.kind == instseg::CocoSegmentation::Kind::polygons)
      for (const auto& p : s.polygons)
        if (p.size() < 6 || p.size() % 2) __builtin_trap();
  }
  // Round trip through the writer (JSON strings re-escaped, numbers in
  // shortest form): the same entries come back.
  instseg::save_results_json(path, rs);
  const auto back = instseg::load_results_json(path);
  if (back.size() != rs.size()) __builtin_trap();
  for (size_t i = 0; i < rs.size(); ++i) {
    const auto &a = rs[i], &b = back[i];
    using Kind = instseg::CocoSegmentation::Kind;
    const auto &sa = a.segmentation, &sb = b.segmentation;
    if (a.image_id != b.image_id || a.category_id != b.category_id || a.has_bbox != b.has_bbox || sa.kind != sb.kind)
      __builtin_trap();
    // Only the form the kind names is written (a duplicate "segmentation" or
    // "counts" key can leave the other forms filled).
    if ((sa.kind == Kind::rle_compressed && sa.counts != sb.counts) ||
        (sa.kind == Kind::rle_uncompressed && sa.ucounts != sb.ucounts) ||
        (sa.kind == Kind::polygons && sa.polygons != sb.polygons))
      __builtin_trap();
    // Scores and boxes compare as doubles (NaN cannot occur: JSON has none).
    if (a.score != b.score) __builtin_trap();
    for (int j = 0; j < 4; ++j)
      if (a.bbox[j] != b.bbox[j] && a.has_bbox) __builtin_trap();
  }
  return 0;
}
