// Error checking for public entry points.
//
// INSTSEG_CHECK(cond, parts...) throws c10::Error (a std::exception) whose
// message joins the parts, like TORCH_CHECK. Use it on shapes, devices, dtypes
// and user data at public entry points; never assert() on data (gone in
// Release). instseg::Error is for errors that carry file context.
#pragma once
#include <c10/util/Exception.h>

#include <sstream>
#include <stdexcept>
#include <string>

#define INSTSEG_CHECK(cond, ...) TORCH_CHECK(cond, __VA_ARGS__)

namespace instseg {

// An error about user input, already carrying its context ("file: field: problem").
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

namespace detail {
inline void cat_to(std::ostringstream&) {}
template <typename T, typename... Rest>
void cat_to(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  cat_to(os, rest...);
}
}  // namespace detail

// Joins the arguments with operator<< into one string.
template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  detail::cat_to(os, args...);
  return os.str();
}

// The message of an exception, without the C++ backtrace c10::Error appends
// to what() in some builds: what a user reads when an error is wrapped with
// the file it came from.
inline std::string error_message(const std::exception& e) {
  if (auto* ce = dynamic_cast<const c10::Error*>(&e)) return ce->what_without_backtrace();
  return e.what();
}

// Throws instseg::Error with the joined message.
template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(str_cat(args...));
}

}  // namespace instseg
