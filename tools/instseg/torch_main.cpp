// instseg-torch: the LibTorch half of the instseg CLI. `instseg` (main.cpp)
// execs it with the same argv for every command that needs LibTorch; it also
// runs on its own (`instseg-torch train ...`, and `instseg launch` starts
// its workers as instseg-torch). It accepts every command, eval included, so
// the two parse the same command lines. Argument parsing only; every
// subcommand calls into the libraries.
#include "commands.h"

#include "instseg/core/allocator.h"
#include "instseg/core/intra_op_threads.h"
#include "instseg/core/log.h"
#include "instseg/core/threads.h"

#include <algorithm>
#include <exception>

int main(int argc, char** argv) {
  using namespace instseg;
  // Lines logged before a command opens its log file (config notices, dataset
  // warnings) are kept and written to the file first.
  start_log_buffer();
  CLI::App app{"instseg: SOLOv2 and QueryInst instance segmentation in C++ (LibTorch)"};
  cli::add_global_options(app);
  auto& opt = cli::mutable_global_options();
  app.parse_complete_callback([&]() {
    set_log_level(cli::log_level_of(opt.log_level));
    configure_threads(opt.threads);
    log_debug("allocator: ", allocator_name());
    opt.threads = std::min(opt.threads, thread_limit(available_cpus()));  // the evaluator's pool too
  });

  // Subcommands, in command_list() order (`instseg --help` lists them so).
  for (const cli::CommandInfo& c : cli::command_list()) {
    const std::string name = c.name;
    if (name == "inspect") cli::add_inspect_command(app);
    else if (name == "forward") cli::add_forward_command(app);
    else if (name == "train") cli::add_train_command(app);
    else if (name == "launch") cli::add_launch_command(app);
    else if (name == "eval") cli::add_eval_command(app);
    else if (name == "test") cli::add_test_command(app);
    else if (name == "predict") cli::add_predict_command(app);
    else if (name == "bench") cli::add_bench_command(app);
    else if (name == "publish") cli::add_publish_command(app);
    else if (name == "widen") cli::add_widen_command(app);
    else fail("instseg-torch: command '", name, "' of command_list() is not registered in torch_main.cpp");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    log_error(e.what());
    return 1;
  }
  return 0;
}
