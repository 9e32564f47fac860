#include "instseg/engine/work_dir_lock.h"

#include "instseg/core/check.h"
#include "instseg/core/log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>

namespace fs = std::filesystem;

namespace instseg {
namespace {

std::mutex g_mutex;
std::map<std::string, std::weak_ptr<WorkDirLock>> g_held;  // canonical dir -> handle in this process

std::string read_all(int fd) {
  std::string s;
  char buf[512];
  ::lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0 && s.size() < 4096;) s.append(buf, static_cast<size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::string WorkDirLock::holder_text() {
  char host[256] = "?";
  if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "?");
  host[sizeof host - 1] = '\0';
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
  return str_cat("pid ", ::getpid(), " host ", host, " started ", when);
}

std::shared_ptr<WorkDirLock> WorkDirLock::acquire(const std::string& work_dir) {
  return acquire(work_dir, "work_dir");
}

std::shared_ptr<WorkDirLock> WorkDirLock::acquire(const std::string& work_dir, const std::string& what) {
  std::error_code ec;
  fs::create_directories(work_dir, ec);
  if (!fs::is_directory(work_dir)) fail(what, " ", work_dir, ": cannot create the directory (", ec.message(), ")");
  const std::string key = fs::weakly_canonical(work_dir).string();

  std::lock_guard<std::mutex> guard(g_mutex);
  if (auto held = g_held[key].lock()) return held;

  std::shared_ptr<WorkDirLock> lock(new WorkDirLock());
  lock->dir_ = work_dir;
  lock->path_ = (fs::path(work_dir) / ".instseg.lock").string();
  lock->fd_ = ::open(lock->path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock->fd_ < 0) fail(what, " ", work_dir, ": cannot create ", lock->path_, ": ", std::strerror(errno));
  if (::flock(lock->fd_, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    if (e == EWOULDBLOCK) {
      const std::string who = read_all(lock->fd_);
      fail(what, " ", work_dir, " is in use by another instseg run (", who.empty() ? "holder unknown" : who,
           "; lock file ", lock->path_, "). Use another ", what == "work_dir" ? "--work-dir" : what,
           ", or stop that run first.");
    }
    // ENOLCK / EINVAL / EOPNOTSUPP: no locking on this file system.
    log_warning(what, " ", work_dir, ": cannot lock ", lock->path_, " (", std::strerror(e),
                "); concurrent runs on this directory will not be detected");
    lock->owner_ = true;
  } else {
    lock->owner_ = true;
    lock->previous_ = read_all(lock->fd_);
    if (!lock->previous_.empty())
      log_info(what, " ", work_dir, ": taking over the lock of a run that has ended (", lock->previous_, ")");
  }
  const std::string me = holder_text() + "\n";
  if (::ftruncate(lock->fd_, 0) != 0 || ::pwrite(lock->fd_, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size()))
    log_warning(what, " ", work_dir, ": cannot write ", lock->path_, " (", std::strerror(errno), ")");
  g_held[key] = lock;
  return lock;
}

WorkDirLock::~WorkDirLock() {
  if (fd_ < 0) return;
  if (!owner_) {  // refused: another run holds the lock and its text
    ::close(fd_);
    return;
  }
  // Empty the file before unlocking: a later run then finds no "previous holder"
  // after a clean exit (the file itself stays; removing it would race with a
  // run that opened it and waits for the lock).
  if (::ftruncate(fd_, 0) != 0) {
  }
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

}  // namespace instseg
