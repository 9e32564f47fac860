// The zip container of torch.save files (torch >= 1.6), read in place from
// the file's bytes (a MappedFile), without LibTorch.
//
// The central directory is read as LibTorch's miniz reads it (the last
// end-of-central-directory record; zip64 when a zip64 locator points at a
// zip64 record, whatever the 32-bit fields say) and checked so that a file we
// accept is one torch.load reads the same way: one disk, every record inside
// the file, no record claiming more bytes than its stored bytes can give (a
// directory saying "1 TB" must not allocate 1 TB), no masked headers, no two
// names that compare equal case-insensitively (miniz's lookup would take
// either). Records are stored (what torch.save writes) or deflated (an archive
// re-zipped by a zip tool, checkpoint/inflate.h); their CRC-32 is checked, which
// miniz as built into LibTorch does not do.
//
// Errors are instseg::Error "corrupted zip archive: <what> at byte <offset>" (or
// "unsupported zip archive: ..."); the caller adds the file's path.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace instseg {

// One entry of the central directory.
struct ZipEntry {
  std::string name;
  uint32_t crc = 0;
  uint64_t comp_size = 0, uncomp_size = 0, local_offset = 0;
  uint32_t method = 0;  // 0 stored, 8 deflated
  uint32_t flags = 0;   // general-purpose bit flags
  bool is_dir = false;  // miniz's rule: a name ending in '/' or the DOS directory attribute; read as empty
};

class ZipArchive {
 public:
  // `data` (`size` bytes, the whole file) must outlive the archive.
  ZipArchive(const char* data, uint64_t size);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  // The entry named `name`, compared case-insensitively as miniz does; nullptr when none.
  const ZipEntry* find(const std::string& name) const;
  // Where the entry's stored bytes start, after its local header; throws when the local
  // header is not one or the bytes run past the end of the file.
  uint64_t data_offset(const ZipEntry& e) const;
  // The entry's stored bytes (e.comp_size of them, compressed or not), where they lie.
  const char* stored_data(const ZipEntry& e) const { return data_ + data_offset(e); }
  // The entry's uncompressed bytes (e.uncomp_size of them) into `out`, CRC-32 checked (a CRC
  // of 0 on non-empty data means written without CRCs, a torch 2.x option: not checked).
  // Throws "<what>" without the record's name: the caller says which record it read.
  void read(const ZipEntry& e, char* out) const;
  std::string read(const ZipEntry& e) const;

 private:
  const char* data_;
  uint64_t size_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> by_name_;  // lower-case name -> index in entries_
};

// CRC-32 (zip's: the value zlib's crc32 gives) of n bytes.
uint32_t crc32_of(const char* p, uint64_t n);

}  // namespace instseg
