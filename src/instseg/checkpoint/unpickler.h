// A Python pickle decoder for what `torch.save` writes (protocol 2, plus the
// protocol 0-4 opcodes other writers emit: FRAME, MEMOIZE, STACK_GLOBAL,
// SHORT_BINUNICODE, BINUNICODE8, LONG1/4, BINFLOAT, text INT/LONG/FLOAT, ...).
//
// Nothing is executed: GLOBAL/REDUCE/NEWOBJ are interpreted for the few
// callables a checkpoint needs (collections.OrderedDict -> dict,
// torch._utils._rebuild_tensor{,_v2,_v3} / _rebuild_parameter -> tensor,
// _codecs.encode -> bytes, torch.Size -> tuple); any other class or function
// yields an opaque PyValue holding its name and arguments. Storages come from
// the persistent-load callback (BINPERSID / PERSID); tensors are descriptions
// of views of them (TensorDesc), checked against the storage's size, with no
// data: LibTorch-free (library instseg_pth), the LibTorch side materialises
// them (checkpoint/pth_reader.h).
//
// Errors (truncation, unknown opcodes, malformed stacks, bad tensor views)
// throw instseg::Error "<what> at byte <offset>", offset = base_offset + the
// opcode's position in the buffer.
#pragma once
#include "instseg/checkpoint/py_value.h"

#include <cstddef>
#include <cstdint>
#include <functional>

namespace instseg {

class Unpickler {
 public:
  // Maps a persistent id (usually a tuple ('storage', <torch.XStorage>, key, location, numel, ...))
  // to its object; a Storage PyValue for torch storages.
  using PersistentLoad = std::function<PyValue(const PyValue& pid)>;

  // `data` must stay alive while load() runs. base_offset is the buffer's position in its file.
  Unpickler(const char* data, size_t size, uint64_t base_offset, PersistentLoad persistent_load = nullptr);

  // Decodes one pickle starting at buffer position `start`, up to and including its STOP opcode.
  PyValue load(size_t start = 0);
  // Buffer position just after the STOP of the last load().
  size_t end() const { return pos_; }

 private:
  const char* data_;
  size_t size_;
  uint64_t base_;
  PersistentLoad persistent_load_;
  size_t pos_ = 0;
};

// Describes a tensor viewing `storage` (a Storage PyValue) like torch._utils._rebuild_tensor:
// element offset (from the storage window's start), sizes and strides; throws
// instseg::Error when the view leaves the window.
TensorDesc rebuild_tensor(const PyValue& storage, int64_t offset, const PyValue& size, const PyValue& stride);

}  // namespace instseg
