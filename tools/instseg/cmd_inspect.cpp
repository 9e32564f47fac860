// `instseg inspect CKPT [--json]`: what a .pth file holds (format, meta, every
// weight with shape and dtype), from our own reader; no Python needed, and no
// LibTorch: both executables run it from the tensors' descriptions
// (checkpoint/inspect.h, library instseg_pth).
#include "commands.h"

#include "instseg/checkpoint/inspect.h"

#include <iostream>
#include <memory>

namespace instseg::cli {

void add_inspect_command(CLI::App& app) {
  struct Args {
    std::string checkpoint;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("inspect", command_info("inspect").description);
  cmd->add_option("checkpoint", args->checkpoint, "checkpoint file (torch.save zip or legacy format)")->required();
  cmd->add_flag("--json", args->json, "machine-readable JSON instead of text");
  cmd->callback([args]() {
    const CheckpointInfo info = inspect_checkpoint(args->checkpoint);
    std::cout << (args->json ? inspect_json(info) : inspect_text(info)) << std::flush;
  });
}

}  // namespace instseg::cli
