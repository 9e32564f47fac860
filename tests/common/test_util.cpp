#include "common/test_util.h"

#include <ATen/ATen.h>

#include <sys/mount.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace fs = std::filesystem;

namespace instseg::test {

std::string data_path(const std::string& rel) {
  return std::string(INSTSEG_SOURCE_DIR) + "/tests/data/" + rel;
}

static std::string shared_root() {
  if (const char* env = std::getenv("INSTSEG_SHARED_DIR")) return env;
  return (fs::path(INSTSEG_SOURCE_DIR) / ".." / "shared").lexically_normal().string();
}

bool have_shared() { return fs::is_directory(fs::path(shared_root()) / "fixtures"); }

std::string shared_path(const std::string& rel) {
  if (!have_shared()) return "";
  return (fs::path(shared_root()) / rel).string();
}

std::string instseg_binary() { return std::string(INSTSEG_BINARY_DIR) + "/tools/instseg/instseg"; }

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string temp_dir(const std::string& tag) {
  std::random_device rd;
  fs::path p = fs::temp_directory_path() /
               ("instseg_test_" + tag + "_" + std::to_string(rd()) + std::to_string(rd()));
  fs::create_directories(p);
  return p.string();
}

SmallTmpfs::SmallTmpfs(const std::string& size) : dir_(temp_dir("tmpfs")) {
  const std::string opts = "size=" + size + ",mode=0755";
  mounted_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) == 0;
}

SmallTmpfs::~SmallTmpfs() {
  if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

double norm_rel(const at::Tensor& a, const at::Tensor& b) {
  auto a64 = a.to(at::kDouble), b64 = b.to(at::kDouble);
  double den = b64.norm().item<double>();
  double num = (a64 - b64).norm().item<double>();
  if (den == 0) return num;
  return num / den;
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  if (a.numel() == 0) return 0.0;
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace instseg::test
