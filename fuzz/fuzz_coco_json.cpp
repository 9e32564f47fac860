// COCO instances JSON: load_coco_json must return or throw instseg::Error;
// no crash, leak, hang, or allocation the file does not justify.
#include "fuzz_util.h"
#include "instseg/core/check.h"
#include "instseg/io/coco_json.h"

#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = instseg::fuzz::write_input_file(data, size, ".json");
  try {
    const instseg::CocoFile f = instseg::load_coco_json(path);
    // The invariants the loader promises its users.
    for (const auto& a : f.annotations) {
      if (!f.image_index.count(a.image_id)) __builtin_trap();
      if (a.has_bbox && (a.bbox[2] < 0 || a.bbox[3] < 0)) __builtin_trap();
    }
  } catch (const instseg::Error&) {
  }
  return 0;
}
