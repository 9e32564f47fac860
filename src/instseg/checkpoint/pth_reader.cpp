#include "instseg/checkpoint/pth_reader.h"

#include "instseg/checkpoint/unpickler.h"
#include "instseg/core/check.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/versions.h>

#include <algorithm>
#include <cctype>
#include <array>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <tuple>

namespace instseg {
namespace {

// pickle.dumps(0x1950a86a20f9469cfc6c) is the first legacy pickle; 1001 the second.
const char* kLegacyMagic = "119547037146038801333356";
constexpr int64_t kLegacyProtocol = 1001;

std::string error_text(const std::exception& e) {
  if (auto* ce = dynamic_cast<const c10::Error*>(&e)) return ce->what_without_backtrace();
  return e.what();
}

// Checks a persistent id ('storage', <torch.XStorage>, key, location, numel[, view_metadata])
// and returns its parts.
struct StorageId {
  at::ScalarType dtype;
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

// A 1-D tensor of `dtype` over a whole untyped storage (retyping when a key is seen
// with another dtype, as torch 2.x UntypedStorage allows).
at::Tensor typed_view(const at::Tensor& flat, at::ScalarType dtype) {
  if (flat.scalar_type() == dtype) return flat;
  int64_t n = static_cast<int64_t>(flat.storage().nbytes() / c10::elementSize(dtype));
  return at::empty({0}, at::TensorOptions().dtype(dtype)).set_(flat.storage(), 0, {n}, {1});
}

// ---------------------------------------------------------------- zip
// PyTorchStreamReader does not verify CRC-32s (its miniz is built without the check), so a
// flipped bit inside a record would load silently. We read the central directory's CRCs
// ourselves and check every record we use. Any parse problem here just disables the check
// (PyTorchStreamReader then reports the archive as broken, or it is a zip64 archive).
uint32_t crc32(const unsigned char* p, size_t n) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint64_t le(const std::string& b, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(b[at + i])) << (8 * i);
  return v;
}

// One entry of the zip central directory.
struct ZipEntry {
  std::string name;
  uint32_t crc = 0;
  uint64_t comp_size = 0, uncomp_size = 0, local_offset = 0;
  uint32_t method = 0;
  uint32_t flags = 0;  // general-purpose bit flags
  bool is_dir = false;  // miniz's rule: a name ending in '/' or the DOS directory attribute; read as empty
};

// The central directory as miniz will read it (the last end-of-central-directory
// record, zip64 when its fields say so). `found` is false when there is no
// end-of-central-directory record at all; otherwise a malformed directory is an error.
std::vector<ZipEntry> zip_directory(const std::string& path, uint64_t file_size, bool* found) {
  std::vector<ZipEntry> out;
  *found = false;
  std::ifstream in(path, std::ios::binary);
  const uint64_t tail_n = std::min<uint64_t>(file_size, 22 + 65535);
  std::string tail(tail_n, '\0');
  in.seekg(static_cast<std::streamoff>(file_size - tail_n));
  if (!in.read(&tail[0], static_cast<std::streamsize>(tail_n))) return out;
  size_t eocd = std::string::npos;
  for (size_t i = tail_n >= 22 ? tail_n - 22 + 1 : 0; i-- > 0;) {
    if (le(tail, i, 4) == 0x06054b50u) {
      eocd = i;
      break;
    }
  }
  if (eocd == std::string::npos) return out;
  *found = true;
  uint64_t entries = le(tail, eocd + 10, 2), cd_size = le(tail, eocd + 12, 4), cd_offset = le(tail, eocd + 16, 4);
  uint64_t this_disk = le(tail, eocd + 4, 2), cd_disk = le(tail, eocd + 6, 2), entries_here = le(tail, eocd + 8, 2);
  // zip64 as miniz decides it: a zip64 locator right before the record whose
  // zip64 end-of-central-directory record has its signature (whatever the
  // 32-bit fields say; torch.save writes one).
  const uint64_t eocd_abs = file_size - tail_n + eocd;
  bool zip64 = false;
  if (eocd_abs >= 20 + 56) {
    std::string loc(20, '\0');
    in.seekg(static_cast<std::streamoff>(eocd_abs - 20));
    if (in.read(&loc[0], 20) && le(loc, 0, 4) == 0x07064b50u) {
      const uint64_t rec = le(loc, 8, 8);
      if (rec > file_size - 56)
        fail("corrupted zip archive: zip64 end-of-central-directory record at byte ", rec, " lies beyond the end");
      std::string z(56, '\0');
      in.seekg(static_cast<std::streamoff>(rec));
      if (in.read(&z[0], 56) && le(z, 0, 4) == 0x06064b50u) {
        zip64 = true;
        this_disk = le(z, 16, 4);
        cd_disk = le(z, 20, 4);
        entries_here = le(z, 24, 8);
        entries = le(z, 32, 8);
        cd_size = le(z, 40, 8);
        cd_offset = le(z, 48, 8);
      }
    }
    in.clear();
  }
  if (!zip64 && (entries == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_offset == 0xFFFFFFFFu))
    fail("corrupted zip archive: zip64 sizes without a zip64 end-of-central-directory record before byte ", eocd_abs);
  if (entries != entries_here || this_disk > 1 || cd_disk > 1)
    fail("unsupported zip archive: a multi-disk archive (", entries_here, " of ", entries, " records on disk ", this_disk,
         ")");
  if (cd_offset > file_size || cd_size > file_size - cd_offset || entries > cd_size / 46)
    fail("corrupted zip archive: central directory of ", entries, " entries, ", cd_size, " bytes at byte ", cd_offset,
         " does not fit in the file of ", file_size, " bytes");
  std::string cd(cd_size, '\0');
  in.seekg(static_cast<std::streamoff>(cd_offset));
  if (!in.read(&cd[0], static_cast<std::streamsize>(cd_size))) fail("corrupted zip archive: cannot read the central directory");
  size_t p = 0;
  for (uint64_t k = 0; k < entries; ++k) {
    if (p + 46 > cd.size() || le(cd, p, 4) != 0x02014b50u)
      fail("corrupted zip archive: central directory entry ", k, " at byte ", cd_offset + p);
    ZipEntry e;
    e.flags = static_cast<uint32_t>(le(cd, p + 8, 2));
    e.method = static_cast<uint32_t>(le(cd, p + 10, 2));
    e.crc = static_cast<uint32_t>(le(cd, p + 16, 4));
    e.comp_size = le(cd, p + 20, 4);
    e.uncomp_size = le(cd, p + 24, 4);
    e.local_offset = le(cd, p + 42, 4);
    const size_t name_len = le(cd, p + 28, 2), extra = le(cd, p + 30, 2), comment = le(cd, p + 32, 2);
    if (p + 46 + name_len + extra + comment > cd.size())
      fail("corrupted zip archive: central directory entry ", k, " at byte ", cd_offset + p, " is truncated");
    e.name = cd.substr(p + 46, name_len);
    e.is_dir = (!e.name.empty() && e.name.back() == '/') || (le(cd, p + 38, 4) & 0x10u);
    // miniz's reader refuses these when it opens the archive (masked local headers; other disks).
    if (e.flags & 0x2000u)
      fail("unsupported zip archive: central directory entry ", k, " has masked (encrypted) local headers");
    const uint64_t disk_start = le(cd, p + 34, 2);
    if (disk_start == 0xFFFF || (disk_start != this_disk && disk_start != 1))
      fail("unsupported zip archive: central directory entry ", k, " starts on disk ", disk_start);
    // zip64 extended information: the 8-byte values of the fields that are 0xFFFFFFFF, in this order.
    for (size_t x = p + 46 + name_len; x + 4 <= p + 46 + name_len + extra;) {
      const uint64_t id = le(cd, x, 2), len = le(cd, x + 2, 2);
      if (x + 4 + len > p + 46 + name_len + extra)
        fail("corrupted zip archive: central directory entry ", k, " has a malformed extra field at byte ",
             cd_offset + x);
      if (id == 0x0001) {
        size_t q = x + 4;
        for (uint64_t* f : {&e.uncomp_size, &e.comp_size, &e.local_offset})
          if (*f == 0xFFFFFFFFu && q + 8 <= x + 4 + len) {
            *f = le(cd, q, 8);
            q += 8;
          }
      }
      x += 4 + len;
    }
    out.push_back(std::move(e));
    p += 46 + name_len + extra + comment;
  }
  return out;
}

// Every record must fit in the file: PyTorchStreamReader allocates a record's
// uncompressed size (from the directory) before reading it, so a directory
// claiming a 1 TB record would allocate 1 TB.
void check_zip_sizes(const std::vector<ZipEntry>& entries, uint64_t file_size) {
  for (const ZipEntry& e : entries) {
    if (e.local_offset >= file_size || e.comp_size > file_size - e.local_offset ||
        e.local_offset + e.comp_size + 30 > file_size)
      fail("corrupted zip archive: record '", e.name, "' (", e.comp_size, " bytes at byte ", e.local_offset,
           ") lies beyond the end of the file at byte ", file_size);
    // torch.save stores records uncompressed; deflate expands at most ~1032:1.
    const bool ok = e.method == 0 ? e.uncomp_size == e.comp_size
                    : e.method == 8 ? e.uncomp_size <= e.comp_size * 1032 + 1024 && (e.comp_size > 0 || e.uncomp_size == 0)
                                    : false;
    if (!ok)
      fail("corrupted zip archive: record '", e.name, "' claims ", e.uncomp_size, " bytes from ", e.comp_size,
           " stored bytes (method ", e.method, ")");
  }
}

// What PyTorchStreamReader's constructor reads and throws on, checked first
// (its throw leaks miniz's reader state, ~1.2 kB per file on LibTorch 1.13):
// files in an archive folder, a 'version' record whose local header is valid
// and whose number is one this LibTorch reads.
void check_version_record(const std::string& path, const std::vector<ZipEntry>& entries, uint64_t file_size) {
  if (entries.empty()) fail("corrupted zip archive: the central directory lists no records");
  const std::string& first = entries.front().name;
  const size_t slash = first.find('/');
  if (slash == std::string::npos || slash == 0)
    fail("not a torch.save zip archive: its first record '", first, "' is not in an archive folder");
  const std::string prefix = first.substr(0, slash + 1);
  // miniz looks names up case-insensitively and, among duplicates, finds any
  // one of them: every record that could be taken for the version is checked.
  auto iequal = [](const std::string& x, const std::string& y) {
    return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), [](char c, char d) {
             return std::tolower(static_cast<unsigned char>(c)) == std::tolower(static_cast<unsigned char>(d));
           });
  };
  std::vector<const ZipEntry*> versions;
  for (const char* name : {".data/version", "version"}) {
    for (const ZipEntry& e : entries)
      if (iequal(e.name, prefix + name)) versions.push_back(&e);
    if (!versions.empty()) break;
  }
  if (versions.empty()) fail("not a torch.save zip archive: no '", prefix, "version' record");
  std::ifstream in(path, std::ios::binary);
  for (const ZipEntry* version : versions) {
    if (version->is_dir)
      fail("corrupted zip archive: record '", version->name, "' is marked as a directory (its data would not be read)");
    // miniz refuses encrypted (bits 0, 6) and patched (bit 5) records and methods other than stored / deflate.
    if (version->flags & 0x61u)
      fail("unsupported zip archive: record '", version->name, "' is encrypted or patched (general-purpose flags ",
           version->flags, ")");
    // torch.save stores every record; a compressed version record (a re-zipped
    // file) could inflate to anything, and LibTorch's failure leaks: refused.
    if (version->method != 0)
      fail("unsupported zip archive: record '", version->name, "' is compressed (method ", version->method,
           "); torch.save stores its records uncompressed: re-save the file with torch.save");
    std::string local(30, '\0');
    in.seekg(static_cast<std::streamoff>(version->local_offset));
    if (!in.read(&local[0], 30) || le(local, 0, 4) != 0x04034b50u)
      fail("corrupted zip archive: bad local header of record '", version->name, "' at byte ", version->local_offset);
    const uint64_t data = version->local_offset + 30 + le(local, 26, 2) + le(local, 28, 2);
    if (data > file_size || version->comp_size > file_size - data)
      fail("corrupted zip archive: record '", version->name, "' at byte ", data, " runs past the end of the file at byte ",
           file_size);
    std::string text(static_cast<size_t>(std::min<uint64_t>(version->comp_size, 64)), '\0');
    in.seekg(static_cast<std::streamoff>(data));
    if (!in.read(&text[0], static_cast<std::streamsize>(text.size())))
      fail("corrupted zip archive: cannot read record '", version->name, "' at byte ", data);
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
  }
}

PyValue read_zip(const std::string& path, uint64_t file_size) {
  // Checked before PyTorchStreamReader sees the file: its constructor leaks miniz's buffers
  // when it throws (LibTorch 1.13), and truncated files are the common failure.
  bool found = false;
  const std::vector<ZipEntry> entries = zip_directory(path, file_size, &found);
  if (!found) fail("corrupted zip archive: no end-of-central-directory record; the file ends at byte ", file_size,
                   " (truncated?)");
  check_zip_sizes(entries, file_size);
  check_version_record(path, entries, file_size);
  // Record name without the archive folder ("data/0"), lower case as miniz
  // compares names -> its entry. torch.save writes each name once; with
  // duplicates we could not tell which one LibTorch reads.
  auto lower = [](std::string x) {
    for (char& c : x) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return x;
  };
  std::map<std::string, const ZipEntry*> by_name;
  for (const ZipEntry& e : entries) {
    const size_t slash = e.name.find('/');
    const std::string key = lower(slash == std::string::npos ? e.name : e.name.substr(slash + 1));
    if (!by_name.emplace(key, &e).second)
      fail("corrupted zip archive: two records named '", e.name, "' (names compare case-insensitively)");
  }
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const std::exception& e) {
    fail("corrupted zip archive: central directory or 'version' record unreadable (", error_text(e),
         ") at byte ", file_size, " (end of file)");
  }
  auto record = [&](const std::string& name) {
    uint64_t offset = 0;
    std::tuple<at::DataPtr, size_t> rec;
    try {
      offset = reader->getRecordOffset(name);
      rec = reader->getRecord(name);
    } catch (const std::exception& e) {
      fail("zip record '", name, "' at byte ", offset, ": ", error_text(e));
    }
    auto it = by_name.find(lower(name));
    // miniz hands out a directory's data as nothing read (uninitialised memory).
    if (it != by_name.end() && it->second->is_dir)
      fail("zip record '", name, "' at byte ", offset, " is marked as a directory (corrupted archive)");
    size_t n = std::get<1>(rec);
    // A CRC of 0 on non-empty data: written with CRC computation off (torch 2.x option), not checked.
    if (it != by_name.end() && !(it->second->crc == 0 && n > 0) &&
        crc32(static_cast<const unsigned char*>(std::get<0>(rec).get()), n) != it->second->crc)
      fail("zip record '", name, "' at byte ", offset, ": CRC-32 mismatch (corrupted data)");
    return rec;
  };
  if (reader->hasRecord("byteorder")) {
    auto bo = record("byteorder");
    std::string order(static_cast<const char*>(std::get<0>(bo).get()), std::get<1>(bo));
    if (order != "little") fail("big-endian checkpoints are not supported (byteorder '", order, "')");
  }
  if (!reader->hasRecord("data.pkl")) fail("zip archive has no data.pkl record (not a torch.save file)");
  auto pkl = record("data.pkl");
  uint64_t pkl_offset = reader->getRecordOffset("data.pkl");
  std::map<std::string, at::Tensor> storages;  // key -> 1-D tensor over the whole storage
  auto load_storage = [&](const PyValue& pid) -> PyValue {
    StorageId id = parse_storage_id(pid);
    auto it = storages.find(id.key);
    if (it == storages.end()) {
      std::string name = "data/" + id.key;
      if (!reader->hasRecord(name)) fail("missing storage record '", name, "'");
      auto rec = record(name);
      size_t nbytes = std::get<1>(rec);
      const size_t el = c10::elementSize(id.dtype);
      if (static_cast<uint64_t>(id.numel) > nbytes / el)
        fail("storage record '", name, "' has ", nbytes, " bytes, too few for ", id.numel, " elements of ",
             dtype_name(id.dtype));
      size_t want = static_cast<size_t>(id.numel) * el;
      if (nbytes < want)
        fail("storage record '", name, "' has ", nbytes, " bytes, expected ", want, " (", id.numel, " elements)");
      c10::Storage storage(c10::Storage::use_byte_size_t(), nbytes, std::move(std::get<0>(rec)), nullptr, false);
      at::Tensor flat = at::empty({0}, at::TensorOptions().dtype(id.dtype)).set_(storage, 0, {id.numel}, {1});
      it = storages.emplace(id.key, flat).first;
    }
    return PyValue::storage(typed_view(it->second, id.dtype));
  };
  const char* data = static_cast<const char*>(std::get<0>(pkl).get());
  Unpickler up(data, std::get<1>(pkl), pkl_offset, load_storage);
  return up.load();
}

// ---------------------------------------------------------------- legacy
PyValue read_legacy(const std::string& bytes) {
  const char* data = bytes.data();
  const size_t size = bytes.size();
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

  // Storages are allocated while the main pickle names them and filled from the raw section after it.
  struct Pending {
    at::Tensor flat;
    int64_t numel;
  };
  std::map<std::string, Pending> storages;
  uint64_t claimed = 0;  // bytes of all storages named so far: they must all follow in the file
  auto load_storage = [&](const PyValue& pid) -> PyValue {
    if (pid.is_tuple() && !pid.items().empty() && pid.items()[0].is_str() && pid.items()[0].as_str() == "module")
      return pid.items().size() > 1 ? pid.items()[1] : PyValue::none();  // pickled module source: not needed
    StorageId id = parse_storage_id(pid);
    auto it = storages.find(id.key);
    if (it == storages.end()) {
      // A corrupted numel must not allocate beyond what the file can hold.
      uint64_t el = c10::elementSize(id.dtype);
      if (static_cast<uint64_t>(id.numel) > size / el) fail("storage of ", id.numel, " elements exceeds the file size");
      claimed += static_cast<uint64_t>(id.numel) * el;
      if (claimed > size)
        fail("the storages named so far need ", claimed, " bytes, more than the file's ", size);
      at::Tensor flat = at::zeros({id.numel}, at::TensorOptions().dtype(id.dtype));
      it = storages.emplace(id.key, Pending{flat, id.numel}).first;
    }
    at::Tensor flat = typed_view(it->second.flat, id.dtype);
    if (!id.view.is_none()) {  // (view_key, offset, view_size) from torch < 1.? storage views
      if (!id.view.is_tuple() || id.view.items().size() != 3) fail("bad storage view metadata ", id.view.repr());
      int64_t off = id.view.items()[1].as_int(), n = id.view.items()[2].as_int();
      if (off < 0 || n < 0 || off + n > flat.numel()) fail("storage view out of range ", id.view.repr());
      flat = flat.narrow(0, off, n);
    }
    return PyValue::storage(flat);
  };
  Unpickler main(data, size, 0, load_storage);
  PyValue root = main.load(pos);
  pos = main.end();
  size_t keys_pos = pos;
  PyValue keys = small_pickle();
  if (!keys.is_list()) fail("storage key list expected, got ", keys.kind_name(), " at byte ", keys_pos);
  for (const auto& k : keys.items()) {
    if (!k.is_str()) fail("storage key is not a str at byte ", keys_pos);
    auto it = storages.find(k.as_str());
    if (it == storages.end()) fail("storage key '", k.as_str(), "' was never referenced at byte ", keys_pos);
    const at::Tensor& flat = it->second.flat;
    if (size - pos < 8) fail("truncated file: storage '", k.as_str(), "' header at byte ", pos);
    int64_t numel;
    std::memcpy(&numel, data + pos, 8);
    if (numel != it->second.numel)
      fail("storage '", k.as_str(), "' has ", numel, " elements in its header, expected ", it->second.numel,
           " at byte ", pos);
    uint64_t nbytes = flat.storage().nbytes();
    if (size - pos - 8 < nbytes)
      fail("truncated file: storage '", k.as_str(), "' needs ", nbytes, " bytes at byte ", pos + 8, ", file has ",
           size, " bytes");
    std::memcpy(flat.storage().data_ptr().get(), data + pos + 8, nbytes);
    pos += 8 + nbytes;
  }
  return root;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail("read error");
  return ss.str();
}

}  // namespace

PthFile read_pth(const std::string& path) {
  PthFile f;
  f.path = path;
  try {
    // The first bytes decide the format; only the legacy reader needs the whole file in memory.
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) fail("cannot open file");
    uint64_t size = static_cast<uint64_t>(in.tellg());
    char head[4] = {0, 0, 0, 0};
    in.seekg(0);
    in.read(head, std::min<uint64_t>(size, 4));
    in.close();
    if (size >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) {
      f.format = "zip";
      f.root = read_zip(path, size);
    } else if (size > 0 && static_cast<unsigned char>(head[0]) == 0x80) {
      f.format = "legacy";
      f.root = read_legacy(read_file(path));
    } else {
      fail("not a torch.save file (neither a zip archive nor a pickle) at byte 0");
    }
  } catch (const std::exception& e) {
    throw Error(path + ": " + error_text(e));
  }
  return f;
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

TensorDict tensor_entries(const PyValue& weights, bool strip_module) {
  TensorDict out;
  if (!weights.is_dict()) return out;
  for (const auto& kv : weights.dict_items()) {
    if (!kv.first.is_str() || !kv.second.is_tensor()) continue;
    std::string key = kv.first.as_str();
    if (strip_module && key.rfind("module.", 0) == 0) key = key.substr(7);
    out.set(key, kv.second.as_tensor());
  }
  return out;
}

TensorDict load_state_dict(const std::string& path) {
  PthFile f = read_pth(path);
  TensorDict d = tensor_entries(find_weights(f.root), true);
  if (d.empty()) fail(path, ": no tensors found under 'state_dict', 'model' or the top level");
  return d;
}

}  // namespace instseg
