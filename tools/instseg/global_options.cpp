// The options every instseg command accepts (--version, --threads,
// --log-level), shared by `instseg` and `instseg-torch` so both parse the same
// command line the same way.
#include "commands.h"

#include "instseg/core/allocator.h"

#include <cstdlib>

namespace instseg::cli {
namespace {
GlobalOptions g_options;

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

const GlobalOptions& global_options() { return g_options; }
GlobalOptions& mutable_global_options() { return g_options; }

void add_global_options(CLI::App& app) {
  // Global options are also accepted after the subcommand (`instseg train CFG --threads 2`).
  app.fallthrough();
  app.set_version_flag("--version", "instseg 0.1.0 (allocator: " + allocator_name() + ")");
  app.require_subcommand(1);
  app.add_option("--threads", g_options.threads,
                 "LibTorch intra-op threads; 0 = auto, the default: $OMP_NUM_THREADS, else available CPUs / "
                 "$LOCAL_WORLD_SIZE, else all available CPUs (with launch: every process's OMP_NUM_THREADS); "
                 "at most max(64, 4 x CPUs)")
      ->check(CLI::Validator(threads_value_error, "N >= 0", "threads"));
  app.add_option("--log-level", g_options.log_level, "debug, info, warning or error")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}));
}

LogLevel log_level_of(const std::string& name) {
  return name == "debug" ? LogLevel::debug
         : name == "warning" ? LogLevel::warning
         : name == "error"   ? LogLevel::error
                             : LogLevel::info;
}

}  // namespace instseg::cli
