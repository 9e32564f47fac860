// The message of the exception that fn() throws, or "" when it throws none
// (one helper for the test files that compare error messages).
#pragma once
#include <exception>
#include <functional>
#include <string>

namespace instseg::test {

inline std::string error_message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace instseg::test
