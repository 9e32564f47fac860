// The running executable and replacing it with another one.
//
// The light `instseg` (no LibTorch) hands every LibTorch command to
// `instseg-torch` installed next to it by exec'ing it with the same argv: the
// process, its pid, environment, standard streams and exit status stay those
// the caller sees, so shells, torchrun and `timeout` cannot tell the
// difference. `instseg launch` re-runs self_executable() for its workers.
#pragma once
#include <string>

namespace instseg {

// The absolute path of the running executable (/proc/self/exe, symlinks resolved).
std::string self_executable();

// <directory of self_executable()>/<name>; whether it exists is not checked.
std::string sibling_executable(const std::string& name);

// Replaces this process with `path` (execv): argv[0] stays as given, the
// environment is inherited. Returns only by throwing instseg::Error naming
// `path` and the reason (no such file, not executable, ...).
[[noreturn]] void exec_replace(const std::string& path, char** argv);

}  // namespace instseg
