// Reads files written by Python `torch.save` (zip and legacy formats,
// checkpoint/pth_archive.h) with every tensor as an at::Tensor: PthArchive
// parses the file and checks it without LibTorch, then each storage is copied
// into one CPU storage and every tensor value of the tree gets its view of it
// (as_tensor, checkpoint/tensor_value.h). Tensors keep Python's sharing: views
// of one storage stay views of one storage.
// Every failure is an instseg::Error "<path>: <what> at byte <offset>".
#pragma once
#include "instseg/checkpoint/pth_archive.h"
#include "instseg/checkpoint/py_value.h"
#include "instseg/checkpoint/tensor_value.h"
#include "instseg/structures/tensor_dict.h"

#include <string>

namespace instseg {

PthFile read_pth(const std::string& path);

// The tensor entries of a weights dict with str keys, in file order (other entries are
// skipped). With strip_module, a leading "module." (DataParallel) is removed, like mmengine.
TensorDict tensor_entries(const PyValue& weights, bool strip_module = true);

// read_pth + find_weights + tensor_entries(strip_module = true).
TensorDict load_state_dict(const std::string& path);

}  // namespace instseg
