// Writes `.pth` checkpoints in torch.save's zip format, which Python
// `torch.load` opens with default settings (torch 1.6 .. 2.x; only torch
// classes are referenced, so weights_only=True accepts them as well):
//   archive/data.pkl     pickle protocol 2 of the root value
//   archive/byteorder    "little"
//   archive/data/<n>     raw bytes of storage n
//   archive/version      written by PyTorchStreamWriter
// Tensors pickle as torch._utils._rebuild_tensor_v2 with persistent ids
// ('storage', torch.<X>Storage, '<n>', 'cpu', numel); tensors sharing a storage
// share it in the file too (views stay views). Dicts pickle as plain dicts.
// The file is written through an AtomicFile (core/atomic_file.h): a temporary
// file, fsync'ed and renamed over path; on a full disk nothing but the error
// remains ("no space left on device writing <path> ...").
#pragma once
#include "instseg/checkpoint/py_value.h"
#include "instseg/checkpoint/tensor_value.h"
#include "instseg/structures/tensor_dict.h"

#include <string>
#include <utility>
#include <vector>

namespace instseg {

// Throws instseg::Error "<path>: ..." on I/O failure or an unpicklable value (a storage,
// an int too wide to write back).
void write_pth(const std::string& path, const PyValue& root);

// The pickle bytes (protocol 2) of `root` alone; tensors are appended to `storages`
// (index = persistent key). Exposed for tests.
std::string pickle_value(const PyValue& root, std::vector<at::Tensor>* storages);

// {key: tensor} as a PyValue dict, in the TensorDict's order.
PyValue state_dict_value(const TensorDict& state_dict);

// An mmdetection-style checkpoint: {'meta': meta, 'state_dict': {...}, <extra entries>...}.
void save_checkpoint(const std::string& path, const PyValue& meta, const TensorDict& state_dict,
                     const std::vector<std::pair<std::string, PyValue>>& extra = {});

}  // namespace instseg
