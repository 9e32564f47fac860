// The LibTorch commands as the light `instseg` sees them. main() looks for
// the command name before CLI11 parses anything (torch_command_in): CLI11
// would otherwise treat the command's own options, --help included, as
// unknown or hand them to instseg's global options (fallthrough). Everything
// after the name is instseg-torch's to parse; the subcommands added here are
// what `instseg --help` lists.
#include "commands.h"

#include "instseg/core/check.h"
#include "instseg/core/self_exec.h"

namespace instseg::cli {

const CommandInfo* torch_command_in(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--", 0) == 0) {
      // A global option: skip its value when it takes one and it is not "--name=value".
      if (arg.find('=') != std::string::npos) continue;
      const CLI::Option* opt = app.get_option_no_throw(arg);
      if (opt == nullptr) return nullptr;  // CLI11 reports it
      if (opt->get_items_expected_min() > 0) ++i;
      continue;
    }
    if (arg.rfind("-", 0) == 0) return nullptr;  // -h and the like: CLI11's
    for (const CommandInfo& c : command_list())
      if (c.torch && arg == c.name) return &c;
    return nullptr;  // eval, or a name CLI11 rejects
  }
  return nullptr;
}

void exec_torch_command(const CommandInfo& command, char** argv) {
  const std::string torch = sibling_executable(kTorchExecutable);
  try {
    exec_replace(torch, argv);
  } catch (const Error& e) {
    fail("instseg ", command.name, " runs in ", kTorchExecutable, ", installed next to instseg: ", e.what());
  }
}

void add_forwarded_command(CLI::App& app, const CommandInfo& info, char** argv) {
  CLI::App* cmd = app.add_subcommand(info.name, info.description);
  // main() execs instseg-torch before CLI11 parses a line with this command;
  // should CLI11 still select it, it is forwarded all the same.
  cmd->allow_extras();
  cmd->prefix_command();
  cmd->callback([&info, argv]() { exec_torch_command(info, argv); });
}

}  // namespace instseg::cli
