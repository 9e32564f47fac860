// A torch.save file read without LibTorch (library instseg_pth): its value
// tree, every tensor in it a description (TensorDesc: storage key, dtype,
// sizes, strides, offset; checkpoint/py_value.h), and the table of its
// storages: their sizes and where their bytes lie, checked against the file
// without reading them. `instseg inspect` needs nothing more; the LibTorch side
// (checkpoint/pth_reader.h, read_pth) copies each storage into an at::Tensor
// and gives every tensor value its view of it.
//
// Both formats of torch.save:
//  * zip (torch >= 1.6 default): records <archive>/data.pkl, <archive>/data/<key>,
//    <archive>/version (checkpoint/zip_archive.h reads the container);
//  * legacy (`_use_new_zipfile_serialization=False`, the OpenMMLab model zoo):
//    pickles for the magic number, protocol version and sys_info, the main pickle
//    (storages as persistent ids), the list of storage keys, then every storage
//    raw as <int64 numel><numel * element size bytes>.
// Hostile files are refused before anything is allocated for them: a storage
// must fit in the file (legacy: all storages named so far together), a zip
// record's claimed size must be one its stored bytes can give, tensor views
// must stay inside their storage (checkpoint/unpickler.h: also its limits on
// nesting and memo).
// Every failure is an instseg::Error "<path>: <what> at byte <offset>".
#pragma once
#include "instseg/checkpoint/dtype.h"
#include "instseg/checkpoint/mapped_file.h"
#include "instseg/checkpoint/py_value.h"
#include "instseg/checkpoint/zip_archive.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace instseg {

struct PthFile {
  std::string path;
  std::string format;  // "zip" or "legacy"
  PyValue root;        // the object passed to torch.save
};

// One storage of a file, by key.
struct PthStorage {
  DType dtype = DType::uint8;  // as the pickle first names it
  int64_t numel = 0;           // elements of dtype the pickle first names
  uint64_t nbytes = 0;         // bytes the storage holds (zip: its record's size)
  const ZipEntry* record = nullptr;  // zip: its record
  // legacy: where its bytes start in the file; kNotInFile when the file's storage
  // section does not list it (read as zeros).
  uint64_t file_offset = kNotInFile;
  static constexpr uint64_t kNotInFile = ~uint64_t(0);
};

class PthArchive {
 public:
  // Maps and parses the file; throws instseg::Error "<path>: <what> at byte <offset>".
  explicit PthArchive(const std::string& path);

  // The tree, tensors as descriptions only.
  const PthFile& file() const { return file_; }
  const std::map<std::string, PthStorage>& storages() const { return storages_; }
  // Copies storage `key`'s nbytes bytes to `out` (zip: CRC-32 checked); throws
  // instseg::Error "<path>: ..." naming the record.
  void read_storage(const std::string& key, void* out) const;

 private:
  PyValue read_zip();
  PyValue read_legacy();

  MappedFile map_;
  std::unique_ptr<ZipArchive> zip_;
  std::string zip_prefix_;  // "<archive>/": the folder of the archive's records
  PthFile file_;
  std::map<std::string, PthStorage> storages_;
};

// The weights container of a checkpoint: root["state_dict"] if it is a dict, else
// root["model"] if it is a dict, else root itself. `where` receives "state_dict",
// "model" or "" (top level).
const PyValue& find_weights(const PyValue& root, std::string* where = nullptr);

}  // namespace instseg
