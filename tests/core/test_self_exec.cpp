// The running executable's path and exec'ing another program (what the light
// `instseg` does to run instseg-torch).
#include "instseg/core/self_exec.h"

#include "common/error_of.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace instseg {
namespace {

TEST(SelfExec, SelfExecutableIsThisTestProgram) {
  const std::string self = self_executable();
  EXPECT_EQ(self.front(), '/');
  EXPECT_EQ(std::filesystem::path(self).filename(), "test_core");
  EXPECT_TRUE(std::filesystem::exists(self));
}

TEST(SelfExec, SiblingIsInTheSameDirectory) {
  const std::filesystem::path self = self_executable();
  EXPECT_EQ(sibling_executable("instseg-torch"), (self.parent_path() / "instseg-torch").string());
}

TEST(SelfExec, ExecFailureNamesTheProgramAndTheReason) {
  char arg0[] = "nothing";
  char* argv[] = {arg0, nullptr};
  const std::string missing = "/nonexistent-dir/instseg-torch";
  const std::string what = test::error_message_of([&] { exec_replace(missing, argv); });
  EXPECT_NE(what.find(missing), std::string::npos) << what;
  EXPECT_NE(what.find("No such file"), std::string::npos) << what;
}

// In a child process: the program replaces it with argv as given, and its
// exit status is the child's.
TEST(SelfExec, ExecRunsTheProgramWithArgvAndKeepsItsExitStatus) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    char a0[] = "sh", a1[] = "-c", a2[] = "exit $(( $0 + 40 ))", a3[] = "2";
    char* argv[] = {a0, a1, a2, a3, nullptr};
    try {
      exec_replace("/bin/sh", argv);
    } catch (...) {
    }
    ::_exit(99);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 42);
}

}  // namespace
}  // namespace instseg
