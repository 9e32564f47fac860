#include "instseg/core/intra_op_threads.h"

#include "common/scoped_env.h"
#include "instseg/core/threads.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

namespace instseg {

using test::ScopedEnv;

TEST(IntraOpThreads, ConfigureAppliesThePolicyToLibTorch) {
  const int saved = at::get_num_threads();
  ScopedEnv lws("LOCAL_WORLD_SIZE", nullptr);
  {
    ScopedEnv omp("OMP_NUM_THREADS", nullptr);
    EXPECT_GE(available_cpus(), 1);
    EXPECT_EQ(configure_threads(1), 1);
    EXPECT_EQ(at::get_num_threads(), 1);
    EXPECT_EQ(configure_threads(0), available_cpus());
  }
  {
    ScopedEnv omp("OMP_NUM_THREADS", "2");
    EXPECT_EQ(configure_threads(0), 2);
    EXPECT_EQ(configure_threads(1), 1);
  }
  at::set_num_threads(saved);
}

}  // namespace instseg
