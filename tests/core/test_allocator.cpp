// The executables' allocator (cmake/InstsegAllocator.cmake): this test binary
// is linked like every instseg executable, so it must run on the allocator the
// build chose, with jemalloc's compiled-in options in effect.
#include "instseg/core/allocator.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstddef>
#include <cstdlib>
#include <sys/types.h>
#include <string>

namespace {

std::string expected_allocator() {
  const std::string e = INSTSEG_EXPECTED_ALLOCATOR;
  return e == "system" ? "glibc" : e;
}

TEST(Allocator, TheBinaryRunsOnTheConfiguredAllocator) {
  if (std::getenv("LD_PRELOAD") != nullptr) GTEST_SKIP() << "LD_PRELOAD is set: it decides the allocator";
  EXPECT_EQ(instseg::allocator_name(), expected_allocator());
}

TEST(Allocator, JemallocUsesInstsegsCompiledInOptions) {
  if (expected_allocator() != "jemalloc") GTEST_SKIP() << "this build does not link jemalloc";
  if (std::getenv("MALLOC_CONF") != nullptr) GTEST_SKIP() << "MALLOC_CONF overrides the compiled-in options";
  using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);
  auto mallctl = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  ASSERT_NE(mallctl, nullptr);
  ssize_t decay = 12345;
  size_t len = sizeof(decay);
  ASSERT_EQ(mallctl("opt.dirty_decay_ms", &decay, &len, nullptr, 0), 0);
  // jemalloc's default is 10000 ms; jemalloc_conf.cpp sets -1 (never purge).
  EXPECT_EQ(decay, -1);
}

}  // namespace
