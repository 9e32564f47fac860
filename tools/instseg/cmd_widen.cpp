// `instseg widen IN CONFIG OUT [--noise R] [--seed N] [--cfg-options k=v ...]`:
// a trained SOLOv2 checkpoint carried into the wider model of CONFIG's `model`
// (Net2WiderNet, models/widen.h), to fine-tune with `load_from`.
#include "commands.h"

#include "instseg/config/build_model.h"
#include "instseg/config/overrides.h"
#include "instseg/core/output_path.h"
#include "instseg/models/widen.h"

#include <iostream>
#include <memory>

namespace instseg::cli {

void add_widen_command(CLI::App& app) {
  struct Args {
    std::string in, config, out;
    std::vector<std::string> cfg_options;
    WidenOptions options;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("widen", command_info("widen").description);
  cmd->add_option("in", args->in, "trained checkpoint (.pth) of the narrower model")->required();
  cmd->add_option("config", args->config, "config whose `model` is the wider network")->required();
  cmd->add_option("out", args->out, "checkpoint to write (meta + state_dict), for the config's load_from")->required();
  cmd->add_option("--noise", args->options.noise,
                  "std of the noise on the copied channels' weights, relative to each tensor's std (0: the same "
                  "function exactly; default 0)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", args->options.seed, "seed of that noise (default 0)");
  cmd->add_option("--cfg-options", args->cfg_options, "key=value overrides of the config")->expected(1, -1);
  cmd->callback([args]() {
    check_output_file(args->out, "out");
    const ModelSpec spec = model_spec_from(load_config_with_overrides(args->config, args->cfg_options));
    const WidenResult r = widen_checkpoint(args->in, spec, args->out, args->options);
    std::cout << "widen: " << args->out << ": " << r.tensors << " tensors, " << r.source_parameters << " -> "
              << r.target_parameters << " parameters (noise " << args->options.noise << ", seed "
              << args->options.seed << ")" << std::endl;
  });
}

}  // namespace instseg::cli
