// A description of a `.pth` checkpoint for `instseg inspect`: its format, meta,
// other top-level entries, and every tensor of its weights with shape and dtype,
// in file order and with the keys exactly as stored (no "module." stripping),
// i.e. what Python's torch.load(...)["state_dict"].items() shows.
//
// LibTorch-free (library instseg_pth): the light `instseg` executable runs
// `instseg inspect` from the tensors' descriptions (checkpoint/pth_archive.h);
// no weight is read, so a zip record's CRC-32 is checked only when the
// weights are loaded (checkpoint/pth_reader.h).
#pragma once
#include "instseg/checkpoint/pth_archive.h"
#include "instseg/checkpoint/py_value.h"

#include <cstdint>
#include <string>
#include <vector>

namespace instseg {

struct TensorInfo {
  std::string key;  // nested containers inside the weights give dotted keys ("a.0.b")
  std::vector<int64_t> shape;
  std::string dtype;  // Python's name: float32, int64, ...
};

struct CheckpointInfo {
  std::string path;
  std::string format;       // "zip" or "legacy"
  std::string weights_key;  // "state_dict", "model" or "" (top level)
  PyValue meta;             // None when the file has no 'meta'
  std::vector<std::string> other_keys;  // top-level entries besides meta and the weights
  std::vector<std::string> other_kinds;  // "dict, 5 entries", ... (parallel to other_keys)
  std::vector<TensorInfo> tensors;
  int64_t num_elements = 0;
};

// A file's tree (from PthArchive or read_pth) described.
CheckpointInfo describe_checkpoint(const PthFile& file);
// describe_checkpoint of PthArchive(path): throws instseg::Error "<path>: ..." for a bad file.
CheckpointInfo inspect_checkpoint(const std::string& path);

// Human-readable: header lines, meta (long values abbreviated), one line per tensor.
std::string inspect_text(const CheckpointInfo& info);
// {"file", "format", "weights_key", "meta", "other_keys", "num_tensors", "num_elements",
//  "tensors": [{"key", "shape", "dtype"}, ...]}
std::string inspect_json(const CheckpointInfo& info);

// JSON text of a value: dicts with non-str keys use the keys' repr; tensors become
// {"tensor": {"shape": [...], "dtype": ...}}; opaque objects {"__object__": "module.Class"};
// bytes {"__bytes__": length}; non-finite floats null.
std::string to_json(const PyValue& v);
// A JSON string literal (quotes included).
std::string json_quote(const std::string& s);

}  // namespace instseg
