// Reads files written by Python `torch.save`, in both formats:
//  * zip (torch >= 1.6 default): records <archive>/data.pkl, <archive>/data/<key>,
//    <archive>/version, read with caffe2::serialize::PyTorchStreamReader;
//  * legacy (`_use_new_zipfile_serialization=False`, the OpenMMLab model zoo):
//    pickles for the magic number, protocol version and sys_info, the main pickle
//    (storages as persistent ids), the list of storage keys, then every storage
//    raw as <int64 numel><numel * element size bytes>.
// Tensors keep Python's sharing: views of one storage stay views of one storage.
// Every failure is an instseg::Error "<path>: <what> at byte <offset>".
#pragma once
#include "instseg/checkpoint/py_value.h"
#include "instseg/structures/tensor_dict.h"

#include <string>

namespace instseg {

struct PthFile {
  std::string path;
  std::string format;  // "zip" or "legacy"
  PyValue root;        // the object passed to torch.save
};

PthFile read_pth(const std::string& path);

// The weights container of a checkpoint: root["state_dict"] if it is a dict, else
// root["model"] if it is a dict, else root itself. `where` receives "state_dict",
// "model" or "" (top level).
const PyValue& find_weights(const PyValue& root, std::string* where = nullptr);

// The tensor entries of a weights dict with str keys, in file order (other entries are
// skipped). With strip_module, a leading "module." (DataParallel) is removed, like mmengine.
TensorDict tensor_entries(const PyValue& weights, bool strip_module = true);

// read_pth + find_weights + tensor_entries(strip_module = true).
TensorDict load_state_dict(const std::string& path);

}  // namespace instseg
