#include "instseg/core/threads.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

namespace instseg {

TEST(Threads, ConfigureUsesRequestedOrMachineCount) {
  EXPECT_GE(available_cpus(), 1);
  EXPECT_EQ(configure_threads(1), 1);
  EXPECT_EQ(at::get_num_threads(), 1);
  EXPECT_EQ(configure_threads(0), available_cpus());
}

}  // namespace instseg
