// GoogleTest main for every instseg test executable. Tests run with the
// machine's thread count (as instseg itself does) and quiet logs.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include "instseg/core/log.h"
#include "instseg/core/threads.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  instseg::set_log_level(instseg::LogLevel::warning);
  at::set_num_threads(instseg::available_cpus());
  return RUN_ALL_TESTS();
}
