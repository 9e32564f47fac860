#include "instseg/checkpoint/pth_archive.h"

#include "instseg/checkpoint/unpickler.h"
#include "instseg/core/require.h"

#include <caffe2/serialize/versions.h>  // the file format versions LibTorch reads (constants only)

#include <algorithm>
#include <cctype>
#include <cstring>

namespace instseg {
namespace {

// pickle.dumps(0x1950a86a20f9469cfc6c) is the first legacy pickle; 1001 the second.
const char* kLegacyMagic = "119547037146038801333356";
constexpr int64_t kLegacyProtocol = 1001;

// A persistent id ('storage', <torch.XStorage>, key, location, numel[, view_metadata]), checked.
struct StorageId {
  DType dtype;
  std::string key;
  int64_t numel;
  PyValue view;  // legacy view_metadata: (view_key, offset, view_size) or None
};

StorageId parse_storage_id(const PyValue& pid) {
  if (!pid.is_tuple() || pid.items().size() < 5) fail("persistent id is not a storage tuple: ", pid.repr(2, 8));
  const auto& it = pid.items();
  if (!it[0].is_str() || it[0].as_str() != "storage") fail("unsupported persistent id type ", it[0].repr());
  if (!it[1].is_global()) fail("storage type is not a class: ", it[1].repr());
  StorageId id;
  id.dtype = storage_dtype(it[1].as_str());
  if (!it[2].is_str()) fail("storage key is not a str: ", it[2].repr());
  id.key = it[2].as_str();
  id.numel = it[4].as_int();
  if (id.numel < 0) fail("negative storage size ", id.numel);
  if (it.size() > 5) id.view = it[5];
  return id;
}

// The whole storage `key` seen as `dtype`: as first named, or retyped over all its
// bytes when a pickle names it with another dtype (torch 2.x storages are untyped).
StorageRef typed_ref(const std::string& key, const PthStorage& s, DType dtype) {
  StorageRef r;
  r.key = key;
  r.dtype = dtype;
  r.numel = dtype == s.dtype ? s.numel : static_cast<int64_t>(s.nbytes / element_size(dtype));
  r.storage_nbytes = s.nbytes;
  return r;
}

// What LibTorch's PyTorchStreamReader reads and throws on when it opens an
// archive, checked so that the files we read are the ones torch.load reads:
// files in an archive folder, a 'version' record, stored, whose number is one
// this LibTorch reads. Returns the archive folder ("<archive>/").
std::string check_version_record(const ZipArchive& zip) {
  const auto& entries = zip.entries();
  if (entries.empty()) fail("corrupted zip archive: the central directory lists no records");
  const std::string& first = entries.front().name;
  const size_t slash = first.find('/');
  if (slash == std::string::npos || slash == 0)
    fail("not a torch.save zip archive: its first record '", first, "' is not in an archive folder");
  const std::string prefix = first.substr(0, slash + 1);
  const ZipEntry* version = zip.find(prefix + ".data/version");
  if (!version) version = zip.find(prefix + "version");
  if (!version) fail("not a torch.save zip archive: no '", prefix, "version' record");
  if (version->is_dir)
    fail("corrupted zip archive: record '", version->name, "' is marked as a directory (its data would not be read)");
  // miniz refuses encrypted (bits 0, 6) and patched (bit 5) records and methods other than stored / deflate.
  if (version->flags & 0x61u)
    fail("unsupported zip archive: record '", version->name, "' is encrypted or patched (general-purpose flags ",
         version->flags, ")");
  // torch.save stores every record; LibTorch fails on a compressed version record (a re-zipped file).
  if (version->method != 0)
    fail("unsupported zip archive: record '", version->name, "' is compressed (method ", version->method,
         "); torch.save stores its records uncompressed: re-save the file with torch.save");
  const std::string text(zip.stored_data(*version), static_cast<size_t>(std::min<uint64_t>(version->comp_size, 64)));
  // Parsed as std::stoull does: leading blanks, digits, anything after.
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  uint64_t v = 0;
  size_t digits = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) && digits < 19; ++i, ++digits)
    v = v * 10 + static_cast<uint64_t>(text[i] - '0');
  if (digits == 0) fail("corrupted zip archive: record '", version->name, "' holds no version number");
  if (v < caffe2::serialize::kMinSupportedFileFormatVersion || v > caffe2::serialize::kMaxSupportedFileFormatVersion)
    fail("unsupported torch.save file format version ", v, " (this LibTorch reads ",
         caffe2::serialize::kMinSupportedFileFormatVersion, " to ", caffe2::serialize::kMaxSupportedFileFormatVersion,
         ")");
  return prefix;
}

}  // namespace

PthArchive::PthArchive(const std::string& path) {
  file_.path = path;
  try {
    map_ = MappedFile(path);
    const char* head = map_.data();
    const uint64_t size = map_.size();
    // The first bytes decide the format.
    if (size >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) {
      file_.format = "zip";
      file_.root = read_zip();
    } else if (size > 0 && static_cast<unsigned char>(head[0]) == 0x80) {
      file_.format = "legacy";
      file_.root = read_legacy();
    } else {
      fail("not a torch.save file (neither a zip archive nor a pickle) at byte 0");
    }
  } catch (const std::exception& e) {
    throw Error(path + ": " + e.what());
  }
}

// ---------------------------------------------------------------- zip
PyValue PthArchive::read_zip() {
  zip_ = std::make_unique<ZipArchive>(map_.data(), map_.size());
  const ZipArchive& zip = *zip_;
  zip_prefix_ = check_version_record(zip);
  // A record by its name inside the archive folder ("data.pkl", "data/0"), read whole.
  auto read_record = [&](const std::string& name, const ZipEntry& e) {
    uint64_t offset = 0;
    try {
      offset = zip.data_offset(e);
      return zip.read(e);
    } catch (const std::exception& x) {
      fail("zip record '", name, "' at byte ", offset, ": ", x.what());
    }
  };
  if (const ZipEntry* bo = zip.find(zip_prefix_ + "byteorder")) {
    const std::string order = read_record("byteorder", *bo);
    if (order != "little") fail("big-endian checkpoints are not supported (byteorder '", order, "')");
  }
  const ZipEntry* pkl_entry = zip.find(zip_prefix_ + "data.pkl");
  if (!pkl_entry) fail("zip archive has no data.pkl record (not a torch.save file)");
  const std::string pkl = read_record("data.pkl", *pkl_entry);
  // Storages: the record's size and place now, its bytes only in read_storage.
  auto load_storage = [&](const PyValue& pid) -> PyValue {
    StorageId id = parse_storage_id(pid);
    auto it = storages_.find(id.key);
    if (it == storages_.end()) {
      const std::string name = "data/" + id.key;
      const ZipEntry* e = zip.find(zip_prefix_ + name);
      if (!e) fail("missing storage record '", name, "'");
      uint64_t offset = 0;
      try {
        offset = zip.data_offset(*e);
      } catch (const std::exception& x) {
        fail("zip record '", name, "' at byte ", offset, ": ", x.what());
      }
      // A directory's data is nothing read (miniz hands out uninitialised memory).
      if (e->is_dir) fail("zip record '", name, "' at byte ", offset, " is marked as a directory (corrupted archive)");
      if (e->flags & 0x61u)
        fail("zip record '", name, "' at byte ", offset, " is encrypted or patched (general-purpose flags ", e->flags,
             ")");
      const uint64_t nbytes = e->uncomp_size;
      const uint64_t el = element_size(id.dtype);
      if (static_cast<uint64_t>(id.numel) > nbytes / el)
        fail("storage record '", name, "' has ", nbytes, " bytes, too few for ", id.numel, " elements of ",
             dtype_name(id.dtype));
      PthStorage s;
      s.dtype = id.dtype;
      s.numel = id.numel;
      s.nbytes = nbytes;
      s.record = e;
      it = storages_.emplace(id.key, s).first;
    }
    return PyValue::storage(typed_ref(id.key, it->second, id.dtype));
  };
  Unpickler up(pkl.data(), pkl.size(), zip.data_offset(*pkl_entry), load_storage);
  return up.load();
}

// ---------------------------------------------------------------- legacy
PyValue PthArchive::read_legacy() {
  const char* data = map_.data();
  const size_t size = map_.size();
  size_t pos = 0;
  auto small_pickle = [&]() {
    Unpickler up(data, size, 0);
    PyValue v = up.load(pos);
    pos = up.end();
    return v;
  };
  size_t magic_pos = pos;
  PyValue magic = small_pickle();
  if (!(magic.is_big_int() && magic.as_str() == kLegacyMagic))
    fail("invalid magic number ", magic.repr(), " (not a torch.save file) at byte ", magic_pos);
  size_t proto_pos = pos;
  PyValue proto = small_pickle();
  if (!proto.is_int() || proto.is_big_int() || proto.as_int() != kLegacyProtocol)
    fail("unsupported legacy protocol version ", proto.repr(), " at byte ", proto_pos);
  size_t info_pos = pos;
  PyValue sys_info = small_pickle();
  if (const PyValue* le = sys_info.get("little_endian")) {
    if (le->is_bool() && !le->as_bool()) fail("big-endian checkpoints are not supported at byte ", info_pos);
  }

  // Storages are named by the main pickle; their bytes follow it, after the list of keys.
  uint64_t claimed = 0;  // bytes of all storages named so far: they must all follow in the file
  auto load_storage = [&](const PyValue& pid) -> PyValue {
    if (pid.is_tuple() && !pid.items().empty() && pid.items()[0].is_str() && pid.items()[0].as_str() == "module")
      return pid.items().size() > 1 ? pid.items()[1] : PyValue::none();  // pickled module source: not needed
    StorageId id = parse_storage_id(pid);
    auto it = storages_.find(id.key);
    if (it == storages_.end()) {
      // A corrupted numel must not claim more than the file can hold.
      const uint64_t el = element_size(id.dtype);
      if (static_cast<uint64_t>(id.numel) > size / el) fail("storage of ", id.numel, " elements exceeds the file size");
      claimed += static_cast<uint64_t>(id.numel) * el;
      if (claimed > size) fail("the storages named so far need ", claimed, " bytes, more than the file's ", size);
      PthStorage s;
      s.dtype = id.dtype;
      s.numel = id.numel;
      s.nbytes = static_cast<uint64_t>(id.numel) * el;
      it = storages_.emplace(id.key, s).first;
    }
    StorageRef ref = typed_ref(id.key, it->second, id.dtype);
    if (!id.view.is_none()) {  // (view_key, offset, view_size) from torch < 1.? storage views
      if (!id.view.is_tuple() || id.view.items().size() != 3) fail("bad storage view metadata ", id.view.repr());
      const int64_t off = id.view.items()[1].as_int(), n = id.view.items()[2].as_int();
      if (off < 0 || n < 0 || off > ref.numel || n > ref.numel - off) fail("storage view out of range ", id.view.repr());
      ref.offset = off;
      ref.numel = n;
    }
    return PyValue::storage(ref);
  };
  Unpickler main(data, size, 0, load_storage);
  PyValue root = main.load(pos);
  pos = main.end();
  size_t keys_pos = pos;
  PyValue keys = small_pickle();
  if (!keys.is_list()) fail("storage key list expected, got ", keys.kind_name(), " at byte ", keys_pos);
  for (const auto& k : keys.items()) {
    if (!k.is_str()) fail("storage key is not a str at byte ", keys_pos);
    auto it = storages_.find(k.as_str());
    if (it == storages_.end()) fail("storage key '", k.as_str(), "' was never referenced at byte ", keys_pos);
    if (size - pos < 8) fail("truncated file: storage '", k.as_str(), "' header at byte ", pos);
    int64_t numel;
    std::memcpy(&numel, data + pos, 8);
    if (numel != it->second.numel)
      fail("storage '", k.as_str(), "' has ", numel, " elements in its header, expected ", it->second.numel,
           " at byte ", pos);
    const uint64_t nbytes = it->second.nbytes;
    if (size - pos - 8 < nbytes)
      fail("truncated file: storage '", k.as_str(), "' needs ", nbytes, " bytes at byte ", pos + 8, ", file has ",
           size, " bytes");
    it->second.file_offset = pos + 8;
    pos += 8 + nbytes;
  }
  return root;
}

void PthArchive::read_storage(const std::string& key, void* out) const {
  try {
    auto it = storages_.find(key);
    if (it == storages_.end()) fail("no storage '", key, "' in the file");
    const PthStorage& s = it->second;
    char none = 0;
    if (s.nbytes == 0) out = &none;  // an empty tensor's data may be nullptr: never pass that to memcpy
    if (s.record) {
      const std::string name = "data/" + key;
      uint64_t offset = 0;
      try {
        offset = zip_->data_offset(*s.record);
        zip_->read(*s.record, static_cast<char*>(out));
      } catch (const std::exception& x) {
        fail("zip record '", name, "' at byte ", offset, ": ", x.what());
      }
    } else if (s.file_offset == PthStorage::kNotInFile) {
      std::memset(out, 0, s.nbytes);
    } else {
      std::memcpy(out, map_.data() + s.file_offset, s.nbytes);
    }
  } catch (const std::exception& e) {
    throw Error(file_.path + ": " + e.what());
  }
}

const PyValue& find_weights(const PyValue& root, std::string* where) {
  for (const char* name : {"state_dict", "model"}) {
    const PyValue* v = root.get(name);
    if (v && v->is_dict()) {
      if (where) *where = name;
      return *v;
    }
  }
  if (where) *where = "";
  return root;
}

}  // namespace instseg
