#include "instseg/checkpoint/zip_archive.h"

#include "instseg/checkpoint/inflate.h"
#include "instseg/core/require.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace instseg {
namespace {

uint64_t le(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

std::string lower(std::string x) {
  for (char& c : x) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return x;
}

// The central directory as miniz will read it (the last end-of-central-directory
// record, zip64 when its fields say so); a malformed directory is an error.
std::vector<ZipEntry> zip_directory(const char* file, uint64_t file_size) {
  std::vector<ZipEntry> out;
  const uint64_t tail_n = std::min<uint64_t>(file_size, 22 + 65535);
  const char* tail = file + (file_size - tail_n);
  size_t eocd = std::string::npos;
  for (size_t i = tail_n >= 22 ? tail_n - 22 + 1 : 0; i-- > 0;) {
    if (le(tail + i, 4) == 0x06054b50u) {
      eocd = i;
      break;
    }
  }
  if (eocd == std::string::npos)
    fail("corrupted zip archive: no end-of-central-directory record; the file ends at byte ", file_size,
         " (truncated?)");
  uint64_t entries = le(tail + eocd + 10, 2), cd_size = le(tail + eocd + 12, 4), cd_offset = le(tail + eocd + 16, 4);
  uint64_t this_disk = le(tail + eocd + 4, 2), cd_disk = le(tail + eocd + 6, 2), entries_here = le(tail + eocd + 8, 2);
  // zip64 as miniz decides it: a zip64 locator right before the record whose
  // zip64 end-of-central-directory record has its signature (whatever the
  // 32-bit fields say; torch.save writes one).
  const uint64_t eocd_abs = file_size - tail_n + eocd;
  bool zip64 = false;
  if (eocd_abs >= 20 + 56) {
    const char* loc = file + eocd_abs - 20;
    if (le(loc, 4) == 0x07064b50u) {
      const uint64_t rec = le(loc + 8, 8);
      if (rec > file_size - 56)
        fail("corrupted zip archive: zip64 end-of-central-directory record at byte ", rec, " lies beyond the end");
      const char* z = file + rec;
      if (le(z, 4) == 0x06064b50u) {
        zip64 = true;
        this_disk = le(z + 16, 4);
        cd_disk = le(z + 20, 4);
        entries_here = le(z + 24, 8);
        entries = le(z + 32, 8);
        cd_size = le(z + 40, 8);
        cd_offset = le(z + 48, 8);
      }
    }
  }
  if (!zip64 && (entries == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_offset == 0xFFFFFFFFu))
    fail("corrupted zip archive: zip64 sizes without a zip64 end-of-central-directory record before byte ", eocd_abs);
  if (entries != entries_here || this_disk > 1 || cd_disk > 1)
    fail("unsupported zip archive: a multi-disk archive (", entries_here, " of ", entries, " records on disk ", this_disk,
         ")");
  if (cd_offset > file_size || cd_size > file_size - cd_offset || entries > cd_size / 46)
    fail("corrupted zip archive: central directory of ", entries, " entries, ", cd_size, " bytes at byte ", cd_offset,
         " does not fit in the file of ", file_size, " bytes");
  const char* cd = file + cd_offset;
  size_t p = 0;
  for (uint64_t k = 0; k < entries; ++k) {
    if (p + 46 > cd_size || le(cd + p, 4) != 0x02014b50u)
      fail("corrupted zip archive: central directory entry ", k, " at byte ", cd_offset + p);
    ZipEntry e;
    e.flags = static_cast<uint32_t>(le(cd + p + 8, 2));
    e.method = static_cast<uint32_t>(le(cd + p + 10, 2));
    e.crc = static_cast<uint32_t>(le(cd + p + 16, 4));
    e.comp_size = le(cd + p + 20, 4);
    e.uncomp_size = le(cd + p + 24, 4);
    e.local_offset = le(cd + p + 42, 4);
    const size_t name_len = le(cd + p + 28, 2), extra = le(cd + p + 30, 2), comment = le(cd + p + 32, 2);
    if (p + 46 + name_len + extra + comment > cd_size)
      fail("corrupted zip archive: central directory entry ", k, " at byte ", cd_offset + p, " is truncated");
    e.name.assign(cd + p + 46, name_len);
    e.is_dir = (!e.name.empty() && e.name.back() == '/') || (le(cd + p + 38, 4) & 0x10u);
    // miniz's reader refuses these when it opens the archive (masked local headers; other disks).
    if (e.flags & 0x2000u)
      fail("unsupported zip archive: central directory entry ", k, " has masked (encrypted) local headers");
    const uint64_t disk_start = le(cd + p + 34, 2);
    if (disk_start == 0xFFFF || (disk_start != this_disk && disk_start != 1))
      fail("unsupported zip archive: central directory entry ", k, " starts on disk ", disk_start);
    // zip64 extended information: the 8-byte values of the fields that are 0xFFFFFFFF, in this order.
    for (size_t x = p + 46 + name_len; x + 4 <= p + 46 + name_len + extra;) {
      const uint64_t id = le(cd + x, 2), len = le(cd + x + 2, 2);
      if (x + 4 + len > p + 46 + name_len + extra)
        fail("corrupted zip archive: central directory entry ", k, " has a malformed extra field at byte ",
             cd_offset + x);
      if (id == 0x0001) {
        size_t q = x + 4;
        for (uint64_t* f : {&e.uncomp_size, &e.comp_size, &e.local_offset})
          if (*f == 0xFFFFFFFFu && q + 8 <= x + 4 + len) {
            *f = le(cd + q, 8);
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

// Every record must fit in the file, and its uncompressed size (what a reader
// allocates before reading it) must be one its stored bytes can give.
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

// Slicing-by-8 tables of the reflected CRC-32 polynomial 0xEDB88320 (zip's):
// table[0] is the byte-at-a-time table, table[k][b] the CRC of b followed by k zero bytes.
struct Crc32Tables {
  uint32_t t[8][256];
  Crc32Tables() {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t c = b;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; ++b)
      for (int k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xffu];
  }
};

}  // namespace

uint32_t crc32_of(const char* p, uint64_t n) {
  static const Crc32Tables tables;
  const auto& t = tables.t;
  const auto* q = reinterpret_cast<const unsigned char*>(p);
  uint32_t c = 0xffffffffu;
  for (; n >= 8; n -= 8, q += 8) {
    const uint32_t lo = c ^ (q[0] | (q[1] << 8) | (q[2] << 16) | (static_cast<uint32_t>(q[3]) << 24));
    c = t[7][lo & 0xffu] ^ t[6][(lo >> 8) & 0xffu] ^ t[5][(lo >> 16) & 0xffu] ^ t[4][lo >> 24] ^ t[3][q[4]] ^
        t[2][q[5]] ^ t[1][q[6]] ^ t[0][q[7]];
  }
  for (; n > 0; --n, ++q) c = t[0][(c ^ *q) & 0xffu] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

ZipArchive::ZipArchive(const char* data, uint64_t size) : data_(data), size_(size) {
  entries_ = zip_directory(data, size);
  check_zip_sizes(entries_, size);
  for (size_t i = 0; i < entries_.size(); ++i)
    if (!by_name_.emplace(lower(entries_[i].name), i).second)
      fail("corrupted zip archive: two records named '", entries_[i].name,
           "' (names compare case-insensitively) in the central directory entry ", i);
}

const ZipEntry* ZipArchive::find(const std::string& name) const {
  auto it = by_name_.find(lower(name));
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

uint64_t ZipArchive::data_offset(const ZipEntry& e) const {
  // check_zip_sizes: local_offset + 30 <= size.
  const char* local = data_ + e.local_offset;
  if (le(local, 4) != 0x04034b50u)
    fail("corrupted zip archive: bad local header of record '", e.name, "' at byte ", e.local_offset);
  const uint64_t data = e.local_offset + 30 + le(local + 26, 2) + le(local + 28, 2);
  if (data > size_ || e.comp_size > size_ - data)
    fail("corrupted zip archive: record '", e.name, "' at byte ", data, " runs past the end of the file at byte ",
         size_);
  return data;
}

void ZipArchive::read(const ZipEntry& e, char* out) const {
  if (e.is_dir) fail("marked as a directory (corrupted archive)");
  // miniz refuses encrypted (bits 0, 6) and patched (bit 5) records.
  if (e.flags & 0x61u) fail("unsupported zip archive: the record is encrypted or patched (general-purpose flags ", e.flags, ")");
  const char* in = data_ + data_offset(e);
  if (e.method == 0)
    std::memcpy(out, in, e.uncomp_size);  // check_zip_sizes: uncomp_size == comp_size
  else
    inflate_raw(in, e.comp_size, out, e.uncomp_size);
  if (!(e.crc == 0 && e.uncomp_size > 0) && crc32_of(out, e.uncomp_size) != e.crc)
    fail("CRC-32 mismatch (corrupted data)");
}

std::string ZipArchive::read(const ZipEntry& e) const {
  std::string out(e.uncomp_size, '\0');
  read(e, &out[0]);
  return out;
}

}  // namespace instseg
