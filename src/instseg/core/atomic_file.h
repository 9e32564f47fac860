// Crash-safe file replacement: every byte goes to "<path>.tmp.<pid>", which is
// fsync'ed and renamed over `path`, and the directory is fsync'ed; a reader
// sees the old file or the new one, never a half-written one.
//
//   AtomicFile f("work_dirs/run/epoch_3.pth");
//   f.write(buf, n);  ...            // never throws: the first failure is kept
//   f.commit();                      // throws instseg::Error on any failure
//
// A write failure does not throw at once, so that a producer that cannot
// stop mid-stream (the zip writer's callbacks, which would otherwise throw
// from a destructor) runs to its end; commit() then throws, and the temporary
// file is removed (also when the AtomicFile is destroyed without commit()).
// Full disks read "no space left on device writing <path> (...)".
//
// Temporary files of writers that were killed (SIGKILL, power loss) keep the
// ".tmp.<pid>" suffix; remove_stale_temp_files() deletes them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace instseg {

class AtomicFile {
 public:
  // Creates (truncates) the temporary file; throws instseg::Error when it cannot.
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends n bytes. After a failure, further writes are ignored (see above).
  void write(const void* data, size_t n);
  // fsync + close + rename over path + fsync of the directory. Throws on the
  // first failure of any write or of these steps; the temporary file is gone then.
  void commit();

  bool failed() const { return err_ != 0; }
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return tmp_; }
  uint64_t bytes_written() const { return written_; }

 private:
  [[noreturn]] void fail_now(const char* step, int err);
  void discard();

  std::string path_, tmp_;
  int fd_ = -1;
  int err_ = 0;             // errno of the first failed write
  uint64_t written_ = 0;
  bool committed_ = false;
};

// Writes `data` to `path` through an AtomicFile.
void write_file_atomically(const std::string& path, const std::string& data);

// The temporary name AtomicFile uses for `path` in this process.
std::string atomic_temp_path(const std::string& path);

// Deletes dir's "<name>.tmp.<digits>" files whose writer is gone: those whose
// pid is not a live process, and, when `owner` is true (the caller holds the
// directory's lock, so no other writer can be active there), every one not
// written by this process. Only names whose base (before ".tmp.") ends with
// one of `suffixes` are considered (e.g. {".pth", "last_checkpoint"}); an empty
// list matches any. Returns the deleted paths. Never throws.
std::vector<std::string> remove_stale_temp_files(const std::string& dir, bool owner,
                                                 const std::vector<std::string>& suffixes = {});

// Fault injection for tests (disk-full runs without a small file system):
// after `bytes` more bytes written through any AtomicFile in this process,
// writes fail with errno `err` (ENOSPC by default). bytes < 0 turns it off.
// The environment variable INSTSEG_TEST_WRITE_FAIL_AFTER=<bytes> sets the
// same at the first AtomicFile (for end-to-end tests of the CLI).
void inject_write_failure(int64_t bytes, int err = 28 /* ENOSPC */);

}  // namespace instseg
