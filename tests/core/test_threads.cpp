#include "instseg/core/threads.h"

#include "common/scoped_env.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace instseg {

using test::ScopedEnv;

TEST(Threads, RequestedWinsOverEverything) {
  const ThreadChoice c = choose_threads(3, "5", "2", 16);
  EXPECT_EQ(c.threads, 3);
  EXPECT_EQ(c.source, "--threads");
}

TEST(Threads, OmpNumThreadsWinsOverMachineAndLocalWorldSize) {
  const ThreadChoice c = choose_threads(0, "5", "2", 16);
  EXPECT_EQ(c.threads, 5);
  EXPECT_EQ(c.source, "OMP_NUM_THREADS");
  EXPECT_EQ(choose_threads(0, "1", nullptr, 64).threads, 1);  // torchrun's default
  EXPECT_EQ(choose_threads(0, "32", nullptr, 2).threads, 32);  // honoured even above the CPU count
}

// `--threads 100000` made OpenMP start 100000 threads (minutes, then killed).
TEST(Threads, AbsurdRequestsAreCapped) {
  ThreadChoice c = choose_threads(100000, nullptr, nullptr, 2);
  EXPECT_EQ(c.threads, 64);
  EXPECT_EQ(c.capped_from, 100000);
  EXPECT_EQ(choose_threads(100000, nullptr, nullptr, 32).threads, 128);  // 4 x CPUs on big machines
  EXPECT_EQ(choose_threads(0, "5000", nullptr, 2).threads, 64);
  EXPECT_EQ(choose_threads(64, nullptr, nullptr, 2).capped_from, 0);      // at the limit: as asked
  EXPECT_EQ(thread_limit(0), 64);
}

TEST(Threads, LocalWorldSizeSharesTheCpus) {
  ThreadChoice c = choose_threads(0, nullptr, "4", 16);
  EXPECT_EQ(c.threads, 4);
  EXPECT_EQ(c.source, "available CPUs / LOCAL_WORLD_SIZE=4");
  EXPECT_EQ(choose_threads(0, nullptr, "3", 16).threads, 5);  // rounded down
  EXPECT_EQ(choose_threads(0, nullptr, "8", 2).threads, 1);   // at least one
  EXPECT_EQ(choose_threads(0, nullptr, "1", 6).threads, 6);
}

TEST(Threads, MachineCountWhenNothingIsSet) {
  const ThreadChoice c = choose_threads(0, nullptr, nullptr, 12);
  EXPECT_EQ(c.threads, 12);
  EXPECT_EQ(c.source, "available CPUs");
  EXPECT_EQ(choose_threads(0, nullptr, nullptr, 0).threads, 1);  // never 0
}

TEST(Threads, MalformedValuesAreIgnoredAndSaidSo) {
  ThreadChoice c = choose_threads(0, "4,2", nullptr, 8);
  EXPECT_EQ(c.threads, 8);
  EXPECT_NE(c.source.find("OMP_NUM_THREADS='4,2' ignored"), std::string::npos) << c.source;
  c = choose_threads(0, "0", "2", 8);
  EXPECT_EQ(c.threads, 4);
  EXPECT_EQ(c.source.rfind("available CPUs / LOCAL_WORLD_SIZE=2", 0), 0u) << c.source;
  EXPECT_NE(c.source.find("OMP_NUM_THREADS='0' ignored"), std::string::npos) << c.source;
  EXPECT_EQ(choose_threads(0, "", "", 8).threads, 8);
  EXPECT_EQ(choose_threads(0, "-3", "0", 8).threads, 8);
  EXPECT_EQ(choose_threads(0, " 2", "x", 8).threads, 8);
}

TEST(Threads, ParsePositiveInt) {
  EXPECT_EQ(parse_positive_int("17"), 17);
  EXPECT_EQ(parse_positive_int("0"), 0);
  EXPECT_EQ(parse_positive_int(nullptr), 0);
  EXPECT_EQ(parse_positive_int("2x"), 0);
  EXPECT_EQ(parse_positive_int("+2"), 0);
  EXPECT_EQ(parse_positive_int("99999999999999999999"), 0);
}

TEST(Threads, ResolveReadsTheEnvironmentAndCapsRequests) {
  ScopedEnv lws("LOCAL_WORLD_SIZE", nullptr);
  const int cpus = available_cpus();
  {
    ScopedEnv omp("OMP_NUM_THREADS", "3");
    EXPECT_EQ(resolve_threads(0).threads, 3);
    EXPECT_EQ(resolve_threads(0).source, "OMP_NUM_THREADS");
    EXPECT_EQ(resolve_threads(2).threads, 2);
  }
  {
    ScopedEnv omp("OMP_NUM_THREADS", nullptr);
    EXPECT_EQ(resolve_threads(0).threads, cpus);
    const ThreadChoice capped = resolve_threads(thread_limit(cpus) + 1);
    EXPECT_EQ(capped.threads, thread_limit(cpus));
    EXPECT_EQ(capped.capped_from, thread_limit(cpus) + 1);
  }
}

}  // namespace instseg
