// instseg: train, evaluate and run SOLOv2 and QueryInst from C++.
//
// This executable links no LibTorch: --help, --version, `eval` and `inspect`
// run here without paying LibTorch's static initialisation (~0.75 s of CPU
// per process, more than the evaluation of a 500-image set). Every other command
// is exec'd in instseg-torch (torch_main.cpp) with the same argv, so its
// options, help, output and exit status are instseg-torch's.
#include "commands.h"

#include "instseg/core/log.h"
#include "instseg/core/threads.h"

#include <algorithm>
#include <exception>

int main(int argc, char** argv) {
  using namespace instseg;
  CLI::App app{"instseg: SOLOv2 and QueryInst instance segmentation in C++ (LibTorch)"};
  cli::add_global_options(app);
  auto& opt = cli::mutable_global_options();
  app.parse_complete_callback([&]() {
    set_log_level(cli::log_level_of(opt.log_level));
    resolve_threads(opt.threads);  // the same warning as instseg-torch when --threads is capped
    // The evaluator's pool, as in instseg-torch: 0 = every available CPU.
    opt.threads = std::min(opt.threads, thread_limit(available_cpus()));
  });

  try {
    for (const cli::CommandInfo& c : cli::command_list()) {
      if (c.torch)
        cli::add_forwarded_command(app, c, argv);
      else if (std::string(c.name) == "inspect")
        cli::add_inspect_command(app);
      else if (std::string(c.name) == "eval")
        cli::add_eval_command(app);
      else
        fail("instseg: command '", c.name, "' of command_list() is neither forwarded nor registered in main.cpp");
    }

    // A LibTorch command: instseg-torch parses and runs the whole line.
    if (const cli::CommandInfo* c = cli::torch_command_in(app, argc, argv)) cli::exec_torch_command(*c, argv);
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    log_error(e.what());
    return 1;
  }
  return 0;
}
