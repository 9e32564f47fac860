// One run per work_dir: a second process is refused with the holder's pid and
// host; the lock of a process that died (SIGKILL) is taken over.
#include "instseg/engine/work_dir_lock.h"
#include "instseg/core/check.h"

#include "common/test_util.h"
#include "engine/engine_test_worker.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace instseg {
namespace {

}  // namespace

TEST(WorkDirLock, SecondProcessIsRefusedAndADeadHoldersLockIsTakenOver) {
  const std::string dir = test::temp_dir("lock");
  FILE* p = ::popen((test::engine_test_worker() + " hold-lock " + dir).c_str(), "r");
  ASSERT_NE(p, nullptr);
  char line[128] = {0};
  ASSERT_NE(std::fgets(line, sizeof line, p), nullptr) << "the worker printed nothing";
  int pid = 0;
  ASSERT_EQ(std::sscanf(line, "locked %d", &pid), 1) << line;

  std::string err;
  try {
    WorkDirLock::acquire(dir);
  } catch (const Error& e) {
    err = e.what();
  }
  EXPECT_NE(err.find("work_dir " + dir + " is in use by another instseg run (pid " + std::to_string(pid) + " host "),
            std::string::npos)
      << err;

  ::kill(pid, SIGKILL);  // as a crashed run: no cleanup at all
  ::pclose(p);
  auto lock = WorkDirLock::acquire(dir);
  EXPECT_NE(lock->previous_holder().find("pid " + std::to_string(pid) + " "), std::string::npos)
      << lock->previous_holder();
  // Within one process the lock is shared (the CLI and the Trainer both take it).
  EXPECT_EQ(WorkDirLock::acquire(dir).get(), lock.get());
}

TEST(WorkDirLock, ReleasedWhenTheLastHandleGoes) {
  const std::string dir = test::temp_dir("lock_release");
  { auto a = WorkDirLock::acquire(dir); }
  FILE* p = ::popen((test::engine_test_worker() + " hold-lock " + dir).c_str(), "r");
  ASSERT_NE(p, nullptr);
  char line[128] = {0};
  ASSERT_NE(std::fgets(line, sizeof line, p), nullptr);
  int pid = 0;
  ASSERT_EQ(std::sscanf(line, "locked %d", &pid), 1) << line;  // the worker got it
  ::kill(pid, SIGKILL);
  ::pclose(p);
}

}  // namespace instseg
