// `instseg publish IN OUT [--save-keys K...] [--fp16]`: mmdetection's
// tools/model_converters/publish_model.py (checkpoint/publish.h).
#include "commands.h"

#include "instseg/checkpoint/publish.h"

#include <iostream>
#include <memory>

namespace instseg::cli {

void add_publish_command(CLI::App& app) {
  struct Args {
    std::string in, out;
    PublishOptions options;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("publish", command_info("publish").description);
  cmd->add_option("in", args->in, "training checkpoint (.pth)")->required();
  cmd->add_option("out", args->out, "published checkpoint to write")->required();
  cmd->add_option("--save-keys", args->options.save_keys, "top-level entries to keep (default: meta state_dict)")
      ->expected(1, -1);
  cmd->add_flag("--fp16", args->options.half,
                "store the weights' floating-point tensors as float16 (half the size; loads into fp32 models)");
  cmd->callback([args]() {
    const PublishResult r = publish_checkpoint(args->in, args->out, args->options);
    std::cout << "publish: " << args->out << ": " << r.num_weights << " weights";
    if (args->options.half) std::cout << " (" << r.num_halved << " stored as float16)";
    std::cout << "; kept";
    for (const std::string& k : r.kept) std::cout << ' ' << k;
    std::cout << "; dropped";
    if (r.dropped.empty()) std::cout << " nothing";
    for (const std::string& k : r.dropped) std::cout << ' ' << k;
    std::cout << std::endl;
  });
}

}  // namespace instseg::cli
