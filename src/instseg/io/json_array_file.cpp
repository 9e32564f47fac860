#include "instseg/io/json_array_file.h"

#include "instseg/core/check.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace instseg {
namespace {

constexpr char kClose[] = "\n]\n";

[[noreturn]] void write_error(const std::string& path, int err) {
  if (err == ENOSPC || err == EDQUOT) fail("no space left on device writing ", path);
  fail("cannot write ", path, ": ", std::strerror(err));
}

}  // namespace

JsonArrayFile::JsonArrayFile(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(path_, ": cannot open for writing: ", std::strerror(errno));
  write_at(0, std::string("[") + kClose);
}

JsonArrayFile::~JsonArrayFile() {
  if (fd_ >= 0) ::close(fd_);
}

void JsonArrayFile::write_at(uint64_t offset, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) write_error(path_, w < 0 ? errno : ENOSPC);
    done += static_cast<size_t>(w);
  }
}

void JsonArrayFile::append(const std::string& item) {
  pending_ += queued_ == 0 ? "\n" : ",\n";
  pending_ += item;
  ++queued_;
}

void JsonArrayFile::commit() {
  if (pending_.empty()) return;
  // The new items overwrite the old closing bracket and end with a new one:
  // the file is never shorter than a complete array, and longer only by the
  // new items' bytes (a crash mid-write can tear those, not the old ones).
  write_at(end_, pending_ + kClose);
  end_ += pending_.size();
  committed_ = queued_;
  pending_.clear();
}

}  // namespace instseg
