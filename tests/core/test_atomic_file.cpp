// AtomicFile: the file is replaced whole or not at all; a full disk (a real
// small tmpfs where the test may mount one, an injected ENOSPC everywhere)
// gives "no space left on device writing <file>", removes the temporary file
// and leaves the previous file as it was; stale temporaries of dead writers
// are found and removed.
#include "instseg/core/atomic_file.h"
#include "instseg/core/check.h"

#include "common/test_util.h"
#include "common/error_of.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>

namespace instseg {
namespace {

namespace fs = std::filesystem;


size_t temp_files_in(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().find(".tmp.") != std::string::npos;
  return n;
}

// A pid that was a process and is not one any more.
pid_t dead_pid() {
  pid_t p = ::fork();
  if (p == 0) ::_exit(0);
  ::waitpid(p, nullptr, 0);
  return p;
}

struct InjectionOff {
  ~InjectionOff() { inject_write_failure(-1); }
};

}  // namespace

TEST(AtomicFile, CommitReplacesTheFile) {
  const std::string dir = test::temp_dir("atomic_commit");
  const std::string path = dir + "/a.txt";
  write_file_atomically(path, "old");
  write_file_atomically(path, "new contents");
  EXPECT_EQ(test::read_bytes(path), "new contents");
  EXPECT_EQ(temp_files_in(dir), 0u);
}

TEST(AtomicFile, DestroyedWithoutCommitLeavesNothing) {
  const std::string dir = test::temp_dir("atomic_abandon");
  {
    AtomicFile f(dir + "/b.bin");
    f.write("xyz", 3);
    EXPECT_TRUE(fs::exists(f.temp_path()));
  }
  EXPECT_FALSE(fs::exists(dir + "/b.bin"));
  EXPECT_EQ(temp_files_in(dir), 0u);
}

TEST(AtomicFile, InjectedNoSpaceKeepsThePreviousFile) {
  InjectionOff off;
  const std::string dir = test::temp_dir("atomic_enospc");
  const std::string path = dir + "/c.pth";
  write_file_atomically(path, "previous");
  inject_write_failure(10);
  AtomicFile f(path);
  const std::string data(100, 'x');
  f.write(data.data(), data.size());  // does not throw: the writer's producer keeps going
  f.write(data.data(), data.size());
  EXPECT_TRUE(f.failed());
  const std::string err = test::error_message_of([&] { f.commit(); });
  EXPECT_NE(err.find("no space left on device writing " + path), std::string::npos) << err;
  EXPECT_EQ(test::read_bytes(path), "previous");
  EXPECT_EQ(temp_files_in(dir), 0u);
}

TEST(AtomicFile, RealDiskFullOnASmallTmpfs) {
  test::SmallTmpfs fs1("64k");
  if (!fs1.ok()) GTEST_SKIP() << "cannot mount a tmpfs here (not root?)";
  const std::string path = fs1.dir() + "/d.bin";
  write_file_atomically(path, "previous");
  const std::string big(1 << 20, 'y');
  const std::string err = test::error_message_of([&] { write_file_atomically(path, big); });
  EXPECT_NE(err.find("no space left on device writing " + path), std::string::npos) << err;
  EXPECT_EQ(test::read_bytes(path), "previous");
  EXPECT_EQ(temp_files_in(fs1.dir()), 0u);
  // The space was given back: a small file fits again.
  write_file_atomically(path, "after");
  EXPECT_EQ(test::read_bytes(path), "after");
}

TEST(AtomicFile, StaleTempFilesOfDeadWritersAreRemoved) {
  const std::string dir = test::temp_dir("atomic_stale");
  const std::string dead = std::to_string(dead_pid());
  const std::string live = std::to_string(::getppid());  // alive, not us
  for (const std::string& n : {"epoch_1.pth.tmp." + dead, "last_checkpoint.tmp." + dead,
                               "epoch_2.pth.tmp." + live, "notes.txt.tmp." + dead, std::string("epoch_3.pth")})
    std::ofstream(dir + "/" + n) << "x";
  auto removed = remove_stale_temp_files(dir, /*owner=*/false, {".pth", "last_checkpoint"});
  EXPECT_EQ(removed.size(), 2u);
  EXPECT_FALSE(fs::exists(dir + "/epoch_1.pth.tmp." + dead));
  EXPECT_FALSE(fs::exists(dir + "/last_checkpoint.tmp." + dead));
  EXPECT_TRUE(fs::exists(dir + "/epoch_2.pth.tmp." + live));  // its writer may still be writing
  EXPECT_TRUE(fs::exists(dir + "/notes.txt.tmp." + dead));    // not ours to judge
  EXPECT_TRUE(fs::exists(dir + "/epoch_3.pth"));
  // The owner of the directory (the lock holder) knows no one else writes there.
  removed = remove_stale_temp_files(dir, /*owner=*/true, {".pth", "last_checkpoint"});
  EXPECT_EQ(removed.size(), 1u);
  EXPECT_FALSE(fs::exists(dir + "/epoch_2.pth.tmp." + live));
}

}  // namespace instseg
