// Helpers shared by the config tests.
#pragma once
#include <string>

#include "instseg/config/config_tree.h"
#include "instseg/core/check.h"

namespace instseg::test {

// The message of the instseg::Error that fn() throws, or "" when it throws none.
template <typename F>
std::string error_of(F&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A config node from JSON text (ConfigNode::parse) or from YAML text (as a
// .yaml config file is read).
inline ConfigNode J(const char* json) { return ConfigNode::parse(json); }
inline ConfigNode Y(const std::string& yaml) { return parse_yaml_config(yaml, "test.yaml"); }

}  // namespace instseg::test
