// A whole file mapped read-only (mmap): the .pth reader parses zip directories
// and pickles where they lie and copies only the storages it is asked for, so
// listing the weights of a 100 MB checkpoint (`instseg inspect`) reads a few
// pages of it. A file shortened by another process while mapped would raise
// SIGBUS on the lost pages: checkpoints are not rewritten in place (our writer
// renames a new file over the old one, core/atomic_file.h).
#pragma once
#include <cstdint>
#include <string>

namespace instseg {

class MappedFile {
 public:
  // Throws instseg::Error "cannot open file" (or why it cannot be mapped), without the path:
  // the caller names the file.
  explicit MappedFile(const std::string& path);
  MappedFile() = default;  // no file: size 0
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // nullptr for an empty file.
  const char* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  const char* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace instseg
