// instseg: train, evaluate and run SOLOv2 and QueryInst from C++.
// Argument parsing only; every subcommand calls into the libraries.
#include "commands.h"

#include "instseg/core/allocator.h"
#include "instseg/core/log.h"
#include "instseg/core/threads.h"

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <iostream>

namespace instseg::cli {
namespace {
GlobalOptions g_options;
}
const GlobalOptions& global_options() { return g_options; }
}  // namespace instseg::cli

namespace {
// CLI11's range check prints 300 digits of DBL_MAX; say it plainly.
std::string threads_value_error(const std::string& text) {
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < 0)
    return "expected 0 (auto, the default) or a positive number of threads, got '" + text + "'";
  if (v > 1000000) return "'" + text + "' threads is not a sensible thread count";
  return "";
}
}  // namespace

int main(int argc, char** argv) {
  using namespace instseg;
  // Lines logged before a command opens its log file (config notices, dataset
  // warnings) are kept and written to the file first.
  start_log_buffer();
  CLI::App app{"instseg: SOLOv2 and QueryInst instance segmentation in C++ (LibTorch)"};
  // Global options are also accepted after the subcommand (`instseg train CFG --threads 2`).
  app.fallthrough();
  app.set_version_flag("--version", "instseg 0.1.0 (allocator: " + allocator_name() + ")");
  app.require_subcommand(1);
  auto& opt = const_cast<cli::GlobalOptions&>(cli::global_options());
  app.add_option("--threads", opt.threads,
                 "LibTorch intra-op threads; 0 = auto, the default: $OMP_NUM_THREADS, else available CPUs / "
                 "$LOCAL_WORLD_SIZE, else all available CPUs (with launch: every process's OMP_NUM_THREADS); "
                 "at most max(64, 4 x CPUs)")
      ->check(CLI::Validator(threads_value_error, "N >= 0", "threads"));
  app.add_option("--log-level", opt.log_level, "debug, info, warning or error")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}));
  app.parse_complete_callback([&]() {
    set_log_level(opt.log_level == "debug"     ? LogLevel::debug
                  : opt.log_level == "warning" ? LogLevel::warning
                  : opt.log_level == "error"   ? LogLevel::error
                                               : LogLevel::info);
    configure_threads(opt.threads);
    log_debug("allocator: ", allocator_name());
    opt.threads = std::min(opt.threads, thread_limit(available_cpus()));  // the evaluator's pool too
  });

  // Subcommands, in the order `instseg --help` lists them.
  // (each helper adds its add_*_command call here)
  cli::add_inspect_command(app);
  cli::add_forward_command(app);
  cli::add_train_command(app);
  cli::add_launch_command(app);
  cli::add_eval_command(app);
  cli::add_test_command(app);
  cli::add_predict_command(app);

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
