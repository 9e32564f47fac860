#include "instseg/core/self_exec.h"

#include "instseg/core/check.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace instseg {

std::string self_executable() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) fail("/proc/self/exe: cannot read the running executable's path: ", std::strerror(errno));
  buf[n] = '\0';
  return buf;
}

std::string sibling_executable(const std::string& name) {
  const std::string self = self_executable();
  return self.substr(0, self.rfind('/') + 1) + name;
}

void exec_replace(const std::string& path, char** argv) {
  std::fflush(nullptr);  // what was printed so far comes before the new program's output
  ::execv(path.c_str(), argv);
  // execv returns only on failure.
  fail(path, ": cannot run it: ", std::strerror(errno));
}

}  // namespace instseg
