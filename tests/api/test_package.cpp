// The installed package from outside the tree: `cmake --install` into a
// prefix, examples/ configured and built against it as a separate CMake
// project (find_package(instseg)), and segment_image's instances compared
// with `instseg predict`'s on the same image: same labels, scores within
// 1e-6, identical masks (COCO RLE strings). segment_video runs on a short
// video made here.
//
// One CTest test (the steps share one install and one examples build, in
// <build>/package_test: a fixed path, so ccache hits, unchanged installed
// files and Ninja's incremental build make reruns cheap).
#include "api/tiny_solov2.h"
#include "common/test_util.h"
#include "instseg/io/image.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

namespace instseg {
namespace {
namespace fs = std::filesystem;

std::string run(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  *rc = pclose(p);
  return out;
}

std::string q(const std::string& s) { return "'" + s + "'"; }

struct Instance {
  int64_t label = -1;
  double score = 0;
  std::string rle;
};

// segment_image's lines "<k> label=<l> class=<name> score=<s> box=[...] area=<a> rle=<counts>".
std::vector<Instance> parse_segment_image(const std::string& out) {
  std::vector<Instance> v;
  const std::regex line(R"(^\d+ label=(\d+) class=\S+ score=(\S+) box=\[[^\]]*\] area=\d+ rle=(\S*)$)");
  std::istringstream is(out);
  std::string l;
  while (std::getline(is, l)) {
    std::smatch m;
    if (std::regex_match(l, m, line)) v.push_back({std::stoll(m[1]), std::stod(m[2]), m[3]});
  }
  return v;
}

// `instseg predict`'s results.json (category ids are 1..C: label + 1).
std::vector<Instance> parse_results(const std::string& path) {
  std::ifstream in(path);
  const auto j = nlohmann::json::parse(in);
  std::vector<Instance> v;
  for (const auto& r : j)
    v.push_back({r["category_id"].get<int64_t>() - 1, r["score"].get<double>(),
                 r["segmentation"]["counts"].get<std::string>()});
  return v;
}

class PackageTest : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    root_ = std::string(INSTSEG_BINARY_DIR) + "/package_test";
    prefix_ = root_ + "/prefix";
    const std::string exbuild = root_ + "/examples";
    fs::create_directories(root_);
    using clock = std::chrono::steady_clock;
    auto step = [&](const std::string& what, const std::string& cmd) {
      const auto t0 = clock::now();
      int rc = -1;
      const std::string out = run(cmd, &rc);
      const double s = std::chrono::duration<double>(clock::now() - t0).count();
      std::printf("[package] %s: %.1f s\n", what.c_str(), s);
      if (rc != 0) setup_error_ += what + " failed:\n" + cmd + "\n" + out;
      return rc == 0;
    };
    const std::string cmake = q(INSTSEG_CMAKE_COMMAND);
    if (!step("install", cmake + " --install " + q(INSTSEG_BINARY_DIR) + " --prefix " + q(prefix_))) return;
    std::string configure = cmake + " -S " + q(std::string(INSTSEG_SOURCE_DIR) + "/examples") + " -B " +
                            q(exbuild) + " -G " + q(INSTSEG_CMAKE_GENERATOR) +
                            " -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=" + q(prefix_) +
                            " -DCMAKE_CXX_COMPILER=" + q(INSTSEG_CXX_COMPILER);
    // ccache for the external build when the main build has it (CI cost).
    if (std::string(INSTSEG_CCACHE).size() > 0)
      configure += " -DCMAKE_CXX_COMPILER_LAUNCHER=" + q(INSTSEG_CCACHE);
    if (!step("configure examples", configure)) return;
    if (!step("build examples", cmake + " --build " + q(exbuild) + " -j 2")) return;
    segment_image_ = exbuild + "/segment_image/segment_image";
    segment_video_ = exbuild + "/segment_video/segment_video";
  }

  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  // segment_image and `instseg predict` on one image: the same instances.
  static void compare_with_predict(const std::string& config, const std::string& ckpt, const std::string& image,
                                   const std::string& tag, size_t min_instances) {
    const std::string dir = test::temp_dir("package_" + tag);
    int rc = -1;
    const std::string app = run(segment_image_ + " " + q(config) + " " + q(ckpt) + " " + q(image) + " " +
                                    q(dir + "/overlay.png") + " --device cpu --score-thr 0.05 --threads 2",
                                &rc);
    ASSERT_EQ(rc, 0) << app;
    const std::string cli = run(test::instseg_binary() + " --threads 2 predict " + q(config) + " " + q(ckpt) + " " +
                                    q(image) + " --out-dir " + q(dir + "/pred") + " --score-thr 0.05 --device cpu",
                                &rc);
    ASSERT_EQ(rc, 0) << cli;
    const std::vector<Instance> a = parse_segment_image(app), b = parse_results(dir + "/pred/results.json");
    ASSERT_EQ(a.size(), b.size()) << app;
    ASSERT_GE(a.size(), min_instances) << app;
    for (size_t k = 0; k < a.size(); ++k) {
      EXPECT_EQ(a[k].label, b[k].label) << k;
      EXPECT_NEAR(a[k].score, b[k].score, 1e-6) << k;
      EXPECT_EQ(a[k].rle, b[k].rle) << "mask " << k << " differs";
    }
    // The overlay has the image's size.
    const cv::Mat img = read_image_rgb(image), over = read_image_rgb(dir + "/overlay.png");
    EXPECT_EQ(img.size(), over.size());
  }

  static std::string root_, prefix_, segment_image_, segment_video_, setup_error_;
};
std::string PackageTest::root_, PackageTest::prefix_, PackageTest::segment_image_, PackageTest::segment_video_,
    PackageTest::setup_error_;

void check_installed_files(const std::string& prefix_) {
  for (const char* rel : {"include/instseg/instseg.h", "include/instseg/api/predictor.h",
                          "include/instseg/inference/tensor_predictor.h", "lib/cmake/instseg/instsegConfig.cmake",
                          "lib/cmake/instseg/instsegConfigVersion.cmake", "lib/cmake/instseg/instsegTargets.cmake",
                          "bin/instseg", "bin/instseg-torch",
                          "share/instseg/configs/solov2/solov2-light_r18_fpn_nuclei.yaml"})
    EXPECT_TRUE(fs::exists(prefix_ + "/" + rel)) << rel;
  int rc = -1;
  const std::string out = run(q(prefix_ + "/bin/instseg") + " --version", &rc);
  EXPECT_EQ(rc, 0) << out;
  // The installed instseg finds the installed instseg-torch for LibTorch commands.
  const std::string help = run(q(prefix_ + "/bin/instseg") + " train --help", &rc);
  EXPECT_EQ(rc, 0) << help;
  EXPECT_NE(help.find("--work-dir"), std::string::npos) << help;
}

void check_tiny_model() {
  const test::TinyModel m = test::write_tiny_solov2(test::temp_dir("package_tiny"));
  PackageTest::compare_with_predict(m.config, m.checkpoint, test::nuclei_image(), "tiny", 5);
}

void check_fixture_checkpoints() {
  if (!test::have_shared()) {
    std::printf("[package] ../shared not found: fixture checkpoints skipped\n");
    return;
  }
  for (const char* model : {"solov2", "queryinst"}) {
    SCOPED_TRACE(model);
    const std::string d = test::shared_path(std::string("fixtures/") + model);
    PackageTest::compare_with_predict(d + "/config.json", d + "/checkpoint.pth", d + "/input_image.png", model, 1);
  }
}

void check_segment_video() {
  const std::string dir = test::temp_dir("package_video");
  const test::TinyModel m = test::write_tiny_solov2(dir);
  // Three frames of a nuclei image, MJPG in AVI (OpenCV's built-in codec).
  cv::Mat bgr;
  cv::cvtColor(read_image_rgb(test::nuclei_image()), bgr, cv::COLOR_RGB2BGR);
  const std::string in = dir + "/in.avi", out = dir + "/out.avi";
  {
    cv::VideoWriter w(in, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 5, bgr.size());
    ASSERT_TRUE(w.isOpened());
    for (int i = 0; i < 3; ++i) w.write(bgr);
  }
  int rc = -1;
  const std::string log = run(PackageTest::segment_video_ + " " + q(m.config) + " " + q(m.checkpoint) + " " + q(in) + " " +
                                  q(out) + " --device cpu",
                              &rc);
  ASSERT_EQ(rc, 0) << log;
  EXPECT_NE(log.find("3 frames, "), std::string::npos) << log;
  EXPECT_NE(log.find(" frames/s"), std::string::npos) << log;
  cv::VideoCapture cap(out);
  ASSERT_TRUE(cap.isOpened());
  int frames = 0;
  cv::Mat f;
  while (cap.read(f)) {
    EXPECT_EQ(f.size(), bgr.size());
    ++frames;
  }
  EXPECT_EQ(frames, 3);
}

TEST_F(PackageTest, InstallBuildExamplesAndCompareWithPredict) {
  {
    SCOPED_TRACE("installed files");
    check_installed_files(prefix_);
  }
  {
    SCOPED_TRACE("segment_image vs instseg predict, tiny model");
    check_tiny_model();
  }
  {
    SCOPED_TRACE("segment_image vs instseg predict, fixture checkpoints");
    check_fixture_checkpoints();
  }
  {
    SCOPED_TRACE("segment_video");
    check_segment_video();
  }
}

}  // namespace
}  // namespace instseg
