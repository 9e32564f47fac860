// api/benchmark.h on the tiny SOLOv2: the stages it reports, their
// consistency, the JSON form, random weights, and its errors.
#include "instseg/api/benchmark.h"

#include "api/tiny_solov2.h"
#include "common/error_of.h"
#include "common/test_util.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace instseg {
namespace {

namespace fs = std::filesystem;

class BenchmarkTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = test::temp_dir("benchmark");
    model_ = test::write_tiny_solov2(dir_);
  }
  static BenchmarkOptions small() {
    BenchmarkOptions o;
    o.height = 96;
    o.width = 128;
    o.iters = 3;
    o.warmup = 1;
    o.score_thr = 0.0;
    return o;
  }
  static std::string dir_;
  static test::TinyModel model_;
};
std::string BenchmarkTest::dir_;
test::TinyModel BenchmarkTest::model_;

TEST_F(BenchmarkTest, SyntheticImageStagesAreConsistent) {
  BenchmarkOptions o = small();
  o.batch = 2;
  const BenchmarkReport r = run_benchmark(model_.config, model_.checkpoint, o);
  ASSERT_EQ(r.stages.size(), 4u);  // no decode stage for a synthetic image
  EXPECT_EQ(r.stages[0].name, "preprocess");
  EXPECT_EQ(r.stages[1].name, "forward (network + post-processing)");
  EXPECT_EQ(r.stages.back().name, "total");
  for (const StageTiming& s : r.stages) {
    EXPECT_GT(s.median_ms, 0.0) << s.name;
    EXPECT_LE(s.min_ms, s.median_ms) << s.name;
  }
  // Each stage's minimum is at most the total's median; the total covers the network.
  EXPECT_GE(r.stages.back().median_ms, r.stages[1].min_ms);
  EXPECT_NEAR(r.images_per_s, 1000.0 * 2 / r.stages.back().median_ms, 1e-9);
  EXPECT_EQ(r.input, "96x128 synthetic");
  EXPECT_EQ(r.batch, 2);
  EXPECT_EQ(r.iters, 3);
  EXPECT_GT(r.peak_rss_mib, 10.0);
  EXPECT_GE(r.detections_per_image, 0.0);

  const std::string table = benchmark_table(r);
  EXPECT_NE(table.find("| forward (network + post-processing) |"), std::string::npos) << table;
  EXPECT_NE(table.find("images/s"), std::string::npos);
  const std::string json = benchmark_json(r);
  EXPECT_NE(json.find("\"stages\": [{\"name\": \"preprocess\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"images_per_s\": "), std::string::npos) << json;
}

TEST_F(BenchmarkTest, ImageDirectoryTimesDecodingAndRandomWeightsRun) {
  const std::string imgs = dir_ + "/imgs";
  fs::create_directories(imgs);
  fs::copy_file(test::nuclei_image(), imgs + "/a.png", fs::copy_options::overwrite_existing);
  std::ofstream(imgs + "/notes.txt") << "not an image";
  BenchmarkOptions o = small();
  o.images = imgs;
  const BenchmarkReport r = run_benchmark(model_.config, /*checkpoint=*/"", o);
  ASSERT_EQ(r.stages.size(), 5u);
  EXPECT_EQ(r.stages[0].name, "decode");
  EXPECT_EQ(r.images, 1);
  EXPECT_NE(benchmark_table(r).find("random weights"), std::string::npos);
}

// A random SOLOv2 scores every cell ~0.01: without calibration nothing passes
// test_cfg.score_thr; calibrated, the post-processing gets about the asked
// number of candidates (Matrix NMS may then drop some).
TEST_F(BenchmarkTest, RandomWeightsSOLOv2IsCalibratedToTheCandidateCount) {
  BenchmarkOptions o = small();
  o.iters = 1;
  o.warmup = 0;
  o.candidates = 0;
  const BenchmarkReport none = run_benchmark(model_.config, /*checkpoint=*/"", o);
  EXPECT_EQ(none.candidates, 0);
  EXPECT_EQ(none.detections_per_image, 0.0);
  EXPECT_EQ(none.peak_gpu_mib, -1);  // CPU

  o.candidates = 12;
  const BenchmarkReport some = run_benchmark(model_.config, "", o);
  EXPECT_EQ(some.candidates, 12);
  EXPECT_GT(some.detections_per_image, 0.0);
  EXPECT_LE(some.detections_per_image, 12.0);
  EXPECT_NE(benchmark_table(some).find("calibrated to 12 candidates"), std::string::npos) << benchmark_table(some);
  EXPECT_NE(benchmark_json(some).find("\"candidates\": 12"), std::string::npos);

  o.candidates = -1;  // default: 300 with random weights, none with a checkpoint
  EXPECT_EQ(run_benchmark(model_.config, "", o).candidates, 300);
  EXPECT_EQ(run_benchmark(model_.config, model_.checkpoint, o).candidates, -1);
}

TEST_F(BenchmarkTest, ErrorsNameTheProblem) {
  BenchmarkOptions o = small();
  o.images = dir_ + "/no_such_dir";
  EXPECT_NE(test::error_message_of([&] { run_benchmark(model_.config, model_.checkpoint, o); }).find("no_such_dir"),
            std::string::npos);
  fs::create_directories(dir_ + "/empty");
  o.images = dir_ + "/empty";
  EXPECT_NE(test::error_message_of([&] { run_benchmark(model_.config, model_.checkpoint, o); }).find("no image files"),
            std::string::npos);
  o = small();
  o.iters = 0;
  EXPECT_NE(test::error_message_of([&] { run_benchmark(model_.config, model_.checkpoint, o); }).find("--iters"),
            std::string::npos);
  o = small();
  o.dtype = "fp16";  // CPU autocast is bf16 only
  EXPECT_NE(test::error_message_of([&] { run_benchmark(model_.config, model_.checkpoint, o); }).find("fp16"),
            std::string::npos);
  o = small();
  o.candidates = -2;
  EXPECT_NE(test::error_message_of([&] { run_benchmark(model_.config, "", o); }).find(">= 0"), std::string::npos);
}

}  // namespace
}  // namespace instseg
