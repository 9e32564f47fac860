// Shared helpers for instseg tests.
#pragma once
#include <ATen/core/Tensor.h>
#include <gtest/gtest.h>

#include <string>

namespace instseg::test {

// <repo>/tests/data/<rel>
std::string data_path(const std::string& rel);
// <repo>/../shared/<rel> (or $INSTSEG_SHARED_DIR/<rel>); "" when shared/ is absent.
std::string shared_path(const std::string& rel);
bool have_shared();
// Path of the built instseg CLI.
std::string instseg_binary();
// A fresh empty temporary directory, removed by the OS at reboot only.
std::string temp_dir(const std::string& tag);
// A whole file's bytes ("" when it cannot be read), and bytes written over a file.
std::string read_bytes(const std::string& path);
void write_bytes(const std::string& path, const std::string& bytes);

// A small tmpfs mounted on a fresh temporary directory for the test's
// lifetime (full-disk tests). Mounting needs root (CAP_SYS_ADMIN): ok() is
// false otherwise and tests skip.
class SmallTmpfs {
 public:
  explicit SmallTmpfs(const std::string& size = "1m");
  ~SmallTmpfs();
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;
  bool ok() const { return mounted_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

// ||a - b|| / ||b|| in float64 (0 when both are zero).
double norm_rel(const at::Tensor& a, const at::Tensor& b);
// max |a - b|
double max_abs_diff(const at::Tensor& a, const at::Tensor& b);

}  // namespace instseg::test

// Skips the current test (with a message) when ../shared is absent.
#define INSTSEG_REQUIRE_SHARED()                                                    \
  do {                                                                              \
    if (!::instseg::test::have_shared())                                            \
      GTEST_SKIP() << "../shared not found (set INSTSEG_SHARED_DIR); skipping";     \
  } while (0)
