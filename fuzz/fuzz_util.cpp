#include "fuzz_util.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

namespace instseg::fuzz {

namespace {
std::map<std::string, std::string>& paths() {
  static auto* p = new std::map<std::string, std::string>();  // outlives atexit handlers
  return *p;
}
void remove_all() {
  for (const auto& kv : paths()) std::remove(kv.second.c_str());
}
}  // namespace

std::string write_input_file(const uint8_t* data, size_t size, const std::string& suffix) {
  std::string& path = paths()[suffix];
  if (path.empty()) {
    if (paths().size() == 1) std::atexit(remove_all);
    path = "/dev/shm/instseg_fuzz_" + std::to_string(::getpid()) + "_input" + suffix;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

}  // namespace instseg::fuzz
