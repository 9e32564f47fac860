#include "instseg/core/output_path.h"

#include "instseg/core/check.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace fs = std::filesystem;

namespace instseg {

void check_output_file(const std::string& path, const std::string& what) {
  if (path.empty()) return;
  const fs::path p(path);
  if (p.filename().empty()) fail(what, " ", path, ": expected a file name, got a directory path");
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::error_code ec;
  if (!fs::exists(dir, ec)) fail(what, " ", path, ": directory ", dir.string(), " does not exist");
  if (!fs::is_directory(dir, ec)) fail(what, " ", path, ": ", dir.string(), " is not a directory");
  if (fs::exists(p, ec)) {
    if (fs::is_directory(p, ec)) fail(what, " ", path, ": is a directory");
    if (::access(path.c_str(), W_OK) != 0) fail(what, " ", path, ": not writable (", std::strerror(errno), ")");
  } else if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    fail(what, " ", path, ": cannot create files in ", dir.string(), " (", std::strerror(errno), ")");
  }
}

void check_output_dir(const std::string& dir, const std::string& what) {
  if (dir.empty()) return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir)) fail(what, " ", dir, ": cannot create the directory (", ec.message(), ")");
  if (::access(dir.c_str(), W_OK | X_OK) != 0) fail(what, " ", dir, ": not writable (", std::strerror(errno), ")");
}

}  // namespace instseg
