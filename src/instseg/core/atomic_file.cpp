#include "instseg/core/atomic_file.h"

#include "instseg/core/check.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>

namespace fs = std::filesystem;

namespace instseg {
namespace {

// Remaining bytes before an injected failure (-1: none), and its errno.
std::atomic<int64_t> g_fail_after{-1};
std::atomic<int> g_fail_errno{ENOSPC};
std::once_flag g_env_once;

void read_env_injection() {
  std::call_once(g_env_once, [] {
    if (const char* v = std::getenv("INSTSEG_TEST_WRITE_FAIL_AFTER")) {
      char* end = nullptr;
      long long n = std::strtoll(v, &end, 10);
      if (end != v && *end == '\0' && n >= 0 && g_fail_after.load() < 0) g_fail_after = n;
    }
  });
}

// How many of n bytes may be written before the injected failure; sets *err when it fires.
size_t allowed_by_injection(size_t n, int* err) {
  int64_t left = g_fail_after.load();
  if (left < 0) return n;
  if (static_cast<uint64_t>(left) >= n) {
    g_fail_after -= static_cast<int64_t>(n);
    return n;
  }
  g_fail_after = 0;
  *err = g_fail_errno.load();
  return static_cast<size_t>(left);
}

std::string describe_errno(int err, const std::string& path) {
  if (err == ENOSPC || err == EDQUOT)
    return str_cat("no space left on device writing ", path,
                   err == EDQUOT ? " (disk quota exceeded)" : "");
  return str_cat("cannot write ", path, ": ", std::strerror(err));
}

void fsync_dir(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  int dfd = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

bool is_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

std::string atomic_temp_path(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), tmp_(atomic_temp_path(path_)) {
  read_env_injection();
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    const int e = errno;
    if (e == ENOSPC || e == EDQUOT) fail(describe_errno(e, path_));
    fail(path_, ": cannot create ", tmp_, ": ", std::strerror(e));
  }
}

AtomicFile::~AtomicFile() {
  if (!committed_) discard();
}

void AtomicFile::discard() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
  if (err_ != 0 || committed_ || fd_ < 0) return;
  const char* p = static_cast<const char*>(data);
  int injected = 0;
  const size_t allowed = allowed_by_injection(n, &injected);
  size_t done = 0;
  while (done < allowed) {
    ssize_t w = ::write(fd_, p + done, allowed - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      err_ = w < 0 ? errno : ENOSPC;  // a 0-byte write of a non-empty buffer: the device is full
      written_ += done;
      return;
    }
    done += static_cast<size_t>(w);
  }
  written_ += done;
  if (injected != 0) err_ = injected;
}

void AtomicFile::fail_now(const char* step, int err) {
  discard();
  if (step == nullptr || err == ENOSPC || err == EDQUOT)
    fail(describe_errno(err, path_), " after ", written_, " bytes; the temporary file was removed",
         " and any previous ", fs::path(path_).filename().string(), " is unchanged");
  fail("cannot write ", path_, ": ", step, " failed: ", std::strerror(err),
       "; the temporary file was removed");
}

void AtomicFile::commit() {
  INSTSEG_CHECK(!committed_, "AtomicFile: ", path_, " committed twice");
  if (fd_ < 0) fail("cannot write ", path_, ": the temporary file is closed");
  if (err_ != 0) fail_now(nullptr, err_);
  // Delayed allocation (ext4, XFS, NFS) can report a full disk only here.
  if (::fsync(fd_) != 0) fail_now("fsync", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail_now("close", errno);
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) fail_now("rename", errno);
  committed_ = true;
  fsync_dir(path_);  // make the rename itself durable
}

void write_file_atomically(const std::string& path, const std::string& data) {
  AtomicFile f(path);
  f.write(data.data(), data.size());
  f.commit();
}

std::vector<std::string> remove_stale_temp_files(const std::string& dir, bool owner,
                                                 const std::vector<std::string>& suffixes) {
  std::vector<std::string> removed;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return removed;
  const std::string me = std::to_string(::getpid());
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const size_t at = name.rfind(".tmp.");
    if (at == std::string::npos || at == 0) continue;
    const std::string pid = name.substr(at + 5), base = name.substr(0, at);
    if (!is_digits(pid) || pid.size() > 9 || pid == me) continue;
    if (!suffixes.empty()) {
      bool match = false;
      for (const auto& s : suffixes)
        match = match || (base.size() >= s.size() && base.compare(base.size() - s.size(), s.size(), s) == 0);
      if (!match) continue;
    }
    std::error_code fec;
    if (!it->is_regular_file(fec)) continue;
    // kill(pid, 0): ESRCH = no such process; anything else (alive, or alive but
    // not ours) counts as alive unless we own the directory.
    const bool alive = ::kill(static_cast<pid_t>(std::stol(pid)), 0) == 0 || errno != ESRCH;
    if (alive && !owner) continue;
    if (fs::remove(it->path(), fec)) removed.push_back(it->path().string());
  }
  return removed;
}

void inject_write_failure(int64_t bytes, int err) {
  read_env_injection();  // so that a later first use does not override this
  g_fail_errno = err;
  g_fail_after = bytes < 0 ? -1 : bytes;
}

}  // namespace instseg
