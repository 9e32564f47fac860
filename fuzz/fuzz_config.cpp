// Config files (YAML, JSON): load_config (with _base_ resolution relative to
// the input's directory), --cfg-options, the top-level check and the typed
// readers of the model section must return or throw instseg::Error; the YAML
// writer must round-trip every tree it is given (read(save(tree)) == tree).
#include "fuzz_util.h"
#include "instseg/config/build_model.h"
#include "instseg/config/config_tree.h"
#include "instseg/config/overrides.h"
#include "instseg/config/top_level.h"
#include "instseg/core/check.h"
#include "instseg/core/log.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

bool has_nan(const instseg::ConfigNode& n) {
  if (n.is_number_float()) return n.get<double>() != n.get<double>();
  if (n.is_structured())
    for (const auto& v : n) if (has_nan(v)) return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace instseg;
  static bool once = [] {
    set_log_level(LogLevel::error);
    return true;
  }();
  (void)once;
  if (size < 1) return 0;
  // Byte 0: JSON or YAML; the rest is the file.
  const std::string suffix = (data[0] & 1) ? ".json" : ".yaml";
  const std::string path = fuzz::write_input_file(data + 1, size - 1, suffix);
  try {
    ConfigNode cfg = load_config_with_overrides(path, {"model.test_cfg.score_thr=0.3", "x.y=[1,(2,3)]"});
    const std::string yaml = config_to_yaml(cfg);
    const ConfigNode back = parse_yaml_config(yaml, "<round trip>");
    if (!has_nan(cfg) && back != cfg) {
      if (std::getenv("INSTSEG_FUZZ_VERBOSE"))
        std::fprintf(stderr, "round trip differs:\n--- yaml\n%s\n--- before\n%s\n--- after\n%s\n", yaml.c_str(),
                     cfg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str(),
                     back.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      __builtin_trap();
    }
    if (cfg.contains("model") && cfg["model"].is_object()) (void)model_spec_from(cfg);
  } catch (const Error&) {
  } catch (const c10::Error&) {  // INSTSEG_CHECK in a builder: a message, not a crash
  }
  return 0;
}
