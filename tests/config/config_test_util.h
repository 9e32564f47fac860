// Helpers shared by the config tests.
#pragma once
#include <string>

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

}  // namespace instseg::test
