// `instseg widen IN CONFIG OUT`: a trained checkpoint's weights carried into a
// wider model of the same kind (solov2/widen.h: Net2WiderNet, the wider
// network computes the trained one's function up to the symmetry-breaking
// noise), written as a checkpoint that a config's `load_from` starts from.
//
//   ModelSpec wide = model_spec_from(load_config("configs/x-wide.yaml"));
//   WidenResult r = widen_checkpoint("epoch_150.pth", wide, "wide_init.pth", {0.02, 0});
#pragma once
#include "instseg/models/model.h"
#include "instseg/solov2/widen.h"

#include <cstdint>
#include <string>

namespace instseg {

struct WidenResult {
  int64_t source_parameters = 0;  // elements of the source's parameters
  int64_t target_parameters = 0;  // of the wider model's
  int64_t tensors = 0;            // state-dict entries written
};

// Reads `in` (a training or published checkpoint; float16 weights are widened
// in fp32), builds `target` to learn its keys and shapes, widens, loads the
// result into that model strictly (the file is a valid checkpoint of it) and
// writes {'meta': in's meta, 'state_dict': ...} to `out` atomically. SOLOv2 only:
// QueryInst throws. Errors name `in` and the offending key.
WidenResult widen_checkpoint(const std::string& in, const ModelSpec& target, const std::string& out,
                             const WidenOptions& options = {});

}  // namespace instseg
