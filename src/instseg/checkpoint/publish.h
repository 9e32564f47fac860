// mmdetection's tools/model_converters/publish_model.py: a training
// checkpoint reduced to what inference needs, for shipping. The optimizer state
// (as large as the weights again for SGD with momentum, twice for AdamW), the
// message hub and the schedulers' state are dropped; `meta` and `state_dict`
// are kept as they are, so the file loads wherever the original did (mmdet's
// load_checkpoint, instseg's load_weights) and `instseg inspect` shows the same
// meta. Unlike publish_model.py, the output name is not suffixed with the
// file's SHA-256 (`sha256sum` gives it).
//
// `half` stores the state_dict's floating-point tensors as float16 (integer
// buffers such as num_batches_tracked stay as they are): half the size of an
// fp32 file, for shipping a model under a size limit. Loading casts back to
// the model's dtype (load_weights copies into the parameters), so the model
// computes in fp32 with weights rounded to fp16's 11-bit mantissa; check the
// detections of such a copy against the fp32 file before shipping it.
#pragma once
#include <string>
#include <vector>

namespace instseg {

struct PublishOptions {
  // Top-level entries to keep, in the input file's order (publish_model.py's --save-keys).
  std::vector<std::string> save_keys = {"meta", "state_dict"};
  bool half = false;  // floating state_dict tensors -> float16
};

struct PublishResult {
  std::vector<std::string> kept, dropped;  // top-level keys, in file order
  int64_t num_weights = 0;                 // tensors of the kept state_dict
  int64_t num_halved = 0;                  // of those, stored as float16 by `half`
};

// Reads `in` (torch.save zip or legacy), writes `out` atomically (zip format).
// Throws instseg::Error naming `in` when its root is not a dict with str keys or
// holds no dict 'state_dict' (a bare state dict: nothing to drop, ship it as it is),
// and naming `out` on a write failure.
PublishResult publish_checkpoint(const std::string& in, const std::string& out, const PublishOptions& options = {});

}  // namespace instseg
