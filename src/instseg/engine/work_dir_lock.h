// One training run per work directory: <work_dir>/.instseg.lock holds an
// advisory lock (flock) and says who holds it ("pid <p> host <h> started
// <time>"). A second run on the same work_dir refuses to start, naming the
// holder; the kernel drops the lock when its process ends in any way
// (SIGKILL included), so a dead run's lock file is simply taken over (with a
// notice naming the run that left it), as `--resume` after a crash needs.
//
//   auto lock = WorkDirLock::acquire(work_dir);   // throws instseg::Error when held
//
// Within one process, acquiring a directory again returns the same handle
// (the CLI takes the lock before it writes the config; the Trainer takes it
// again). The lock lives as long as any handle. Only the process that writes
// (rank 0) takes it. File systems without flock (some network mounts) make
// acquire() log a warning and carry on unlocked.
#pragma once
#include <memory>
#include <string>

namespace instseg {

class WorkDirLock {
 public:
  // Creates work_dir when needed and locks it. Throws instseg::Error
  // "work_dir <dir> is in use by another instseg run (pid .. on host .., started ..)".
  static std::shared_ptr<WorkDirLock> acquire(const std::string& work_dir);
  // The same for another kind of directory: `what` names it in messages
  // ("--out-dir vis is in use by another instseg run ...").
  static std::shared_ptr<WorkDirLock> acquire(const std::string& dir, const std::string& what);

  ~WorkDirLock();
  WorkDirLock(const WorkDirLock&) = delete;
  WorkDirLock& operator=(const WorkDirLock&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& lock_path() const { return path_; }
  // What the previous holder wrote, when a dead run's lock was taken over ("" otherwise).
  const std::string& previous_holder() const { return previous_; }

  // "pid 123 host node1 started 2026-01-02 03:04:05"
  static std::string holder_text();

 private:
  WorkDirLock() = default;
  std::string dir_, path_, previous_;
  int fd_ = -1;
  // Whether this handle holds the flock (or the file system has no locking):
  // only then may the destructor empty the holder text. A refused acquire
  // must leave the running holder's text alone.
  bool owner_ = false;
};

}  // namespace instseg
