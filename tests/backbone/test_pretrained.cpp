// init_cfg=dict(type='Pretrained', ...) on a backbone: torchvision's ResNet-50
// file (random weights, written by python3-torchvision at test time) in a
// temporary TORCH_HOME through `torchvision://resnet50` and through its path,
// an `open-mmlab://` name, the missing-file error, and prefix='backbone.' out
// of detector checkpoints (mmdetection's fixture and one written from built
// modules).
#include "instseg/backbone/fpn.h"
#include "instseg/backbone/pretrained.h"
#include "instseg/checkpoint/pth_writer.h"
#include "instseg/checkpoint/state_dict.h"
#include "instseg/core/log.h"

#include "common/test_util.h"
#include "common/error_of.h"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

namespace instseg {
namespace {
namespace fs = std::filesystem;


// TORCH_HOME for one test.
class TorchHome {
 public:
  explicit TorchHome(const std::string& dir) {
    if (const char* old = std::getenv("TORCH_HOME")) old_ = old, had_ = true;
    setenv("TORCH_HOME", dir.c_str(), 1);
    fs::create_directories(dir + "/hub/checkpoints");
  }
  ~TorchHome() {
    if (had_) setenv("TORCH_HOME", old_.c_str(), 1);
    else unsetenv("TORCH_HOME");
  }

 private:
  std::string old_;
  bool had_ = false;
};

// Writes torchvision's resnet<depth> state dict with random weights to `out`
// with the first python3 that has torch and torchvision ($INSTSEG_PYTHON,
// python3, /usr/bin/python3). False when there is none.
bool make_torchvision_resnet(int depth, const std::string& out) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("INSTSEG_PYTHON")) candidates.push_back(env);
  candidates.push_back("python3");
  candidates.push_back("/usr/bin/python3");
  for (const auto& py : candidates) {
    const std::string cmd = py + " " + test::data_path("backbone/make_torchvision_resnet.py") + " " +
                            std::to_string(depth) + " " + out + " >/dev/null 2>&1";
    const int rc = std::system(cmd.c_str());
    if (rc == -1 || !WIFEXITED(rc)) continue;
    const int status = WEXITSTATUS(rc);
    if (status == 77 || status == 127) continue;  // no torchvision / no such python
    if (status != 0) {
      ADD_FAILURE() << cmd << " failed with status " << status << " (rerun it to see why)";
      return false;
    }
    return true;
  }
  return false;
}

// One torchvision ResNet-50 file per test process (about 100 MB, 2 s to make),
// removed when the process exits.
struct TorchvisionFile {
  std::string dir, path;
  TorchvisionFile() : dir(test::temp_dir("pretrained_tv")) {
    const std::string p = dir + "/resnet50-random.pth";
    if (make_torchvision_resnet(50, p)) path = p;
  }
  ~TorchvisionFile() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};
const std::string& torchvision_resnet50() {
  static const TorchvisionFile file;
  return file.path;
}

#define REQUIRE_TORCHVISION_R50(path)                                                          \
  const std::string& path = torchvision_resnet50();                                            \
  if (path.empty()) GTEST_SKIP() << "python3 with torch and torchvision not found (set "       \
                                    "INSTSEG_PYTHON); skipping the torchvision-format file test"

// Every tensor of the backbone equals the checkpoint's tensor `prefix + key`.
void expect_all_equal(const torch::nn::Module& backbone, const TensorDict& file, const std::string& prefix = "") {
  size_t n = 0;
  for (const auto& [key, value] : module_state_dict(backbone)) {
    ASSERT_TRUE(file.contains(prefix + key)) << prefix + key;
    EXPECT_TRUE(value.equal(file.at(prefix + key).to(value.dtype()))) << key;
    ++n;
  }
  EXPECT_GT(n, 0u);
}

// The lines logged while f runs.
std::string log_of(const std::function<void()>& f) {
  const std::string path = test::temp_dir("pretrained_log") + "/log.txt";
  const LogLevel old = log_level();
  set_log_level(LogLevel::info);
  set_log_file(path);
  f();
  set_log_file("");
  set_log_level(old);
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

BackboneSpec resnet_spec(int depth, const std::string& checkpoint, const std::string& prefix = "") {
  BackboneSpec s;
  s.resnet.depth = depth;
  s.pretrained.checkpoint = checkpoint;
  s.pretrained.prefix = prefix;
  return s;
}

TEST(PretrainedBackbone, TorchvisionResNet50FromTheHubCache) {
  REQUIRE_TORCHVISION_R50(tv);
  const std::string home = test::temp_dir("pretrained_home");
  TorchHome th(home);
  const std::string cached = home + "/hub/checkpoints/resnet50-0676ba61.pth";  // torchvision's file name
  fs::create_symlink(tv, cached);

  const BackboneSpec spec = resnet_spec(50, "torchvision://resnet50");
  torch::manual_seed(0);
  auto backbone = build_backbone(spec);
  LoadedWeights w;
  const std::string log = log_of([&] { w = load_pretrained_backbone(*backbone, spec); });
  const size_t n = module_state_dict(*backbone).size();
  EXPECT_EQ(w.checkpoint, cached);
  EXPECT_EQ(w.report.loaded, n);  // every backbone tensor (BN buffers included)
  EXPECT_TRUE(w.report.missing.empty()) << w.report.summary();
  EXPECT_TRUE(w.report.mismatched.empty()) << w.report.summary();
  EXPECT_EQ(w.report.unexpected, (std::vector<std::string>{"fc.weight", "fc.bias"}));
  expect_all_equal(*backbone, load_state_dict(tv));
  EXPECT_NE(log.find("init_cfg: the ResNet-50 backbone from torchvision://resnet50 = " + cached + ": loaded " +
                     std::to_string(n) + " of " + std::to_string(n) + " tensors"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("init_cfg: unused in the checkpoint (2): fc.weight, fc.bias"), std::string::npos) << log;
  EXPECT_EQ(log.find("WARNING"), std::string::npos) << log;

  // The same file by its path (mmengine's local scheme).
  const BackboneSpec local = resnet_spec(50, tv);
  torch::manual_seed(1);
  auto other = build_backbone(local);
  const LoadedWeights w2 = load_pretrained_backbone(*other, local);
  EXPECT_EQ(w2.report.loaded, n);
  EXPECT_EQ(w2.report.unexpected.size(), 2u);
  expect_all_equal(*other, load_state_dict(tv));

  // torchvision's ResNet-50 weights into a ResNet-18: only what has the same
  // shape loads (the stem, some BN); the rest is a warning and keeps its init.
  const BackboneSpec r18 = resnet_spec(18, "torchvision://resnet50");
  auto small = build_backbone(r18);
  LoadedWeights w3;
  const std::string log3 = log_of([&] { w3 = load_pretrained_backbone(*small, r18); });
  EXPECT_GE(w3.report.loaded, 6u);  // at least conv1.weight and bn1's 5 tensors
  EXPECT_FALSE(w3.report.mismatched.empty());
  EXPECT_NE(log3.find("WARNING"), std::string::npos) << log3;
  EXPECT_NE(log3.find("keeps its random initialisation for"), std::string::npos) << log3;
  EXPECT_NE(log3.find("other shapes ("), std::string::npos) << log3;
}

TEST(PretrainedBackbone, MissingFileNamesThePathAndTheUrl) {
  const std::string home = test::temp_dir("pretrained_empty");
  TorchHome th(home);
  const BackboneSpec spec = resnet_spec(50, "torchvision://resnet50");
  auto backbone = build_backbone(spec);
  const std::string err = test::error_message_of([&] { load_pretrained_backbone(*backbone, spec); });
  EXPECT_NE(err.find(home + "/hub/checkpoints/resnet50-0676ba61.pth does not exist"), std::string::npos) << err;
  EXPECT_NE(err.find("download https://download.pytorch.org/models/resnet50-0676ba61.pth"), std::string::npos)
      << err;
  const BackboneSpec x = resnet_spec(50, "open-mmlab://resnext50_32x4d");
  EXPECT_NE(test::error_message_of([&] { load_pretrained_backbone(*backbone, x); })
                .find("https://download.openmmlab.com/pretrain/third_party/resnext50-32x4d-0ab1a123.pth"),
            std::string::npos);
}

// open-mmlab:// names resolve the same way: a ResNeXt-50 32x4d (at a quarter of
// the width, to keep the file small) saved as mmengine's file name.
TEST(PretrainedBackbone, OpenmmlabNameFromTheHubCache) {
  const std::string home = test::temp_dir("pretrained_mmlab");
  TorchHome th(home);
  BackboneSpec spec = resnet_spec(50, "open-mmlab://resnext50_32x4d");
  spec.resnet.groups = 32;
  spec.resnet.base_width = 4;
  spec.resnet.base_channels = 16;
  torch::manual_seed(2);
  auto source = build_backbone(spec);
  for (auto& p : source->parameters()) p.data().uniform_(-1, 1);  // not the init the target starts from
  const std::string file = home + "/hub/checkpoints/resnext50-32x4d-0ab1a123.pth";
  save_checkpoint(file, PyValue::dict(), module_state_dict(*source));
  torch::manual_seed(3);
  auto backbone = build_backbone(spec);
  const LoadedWeights w = load_pretrained_backbone(*backbone, spec);
  EXPECT_TRUE(w.report.ok()) << w.report.summary();
  EXPECT_EQ(w.report.loaded, module_state_dict(*backbone).size());
  expect_all_equal(*backbone, load_state_dict(file));
}

// prefix='backbone.': the backbone out of a detector checkpoint written from
// built modules (backbone + FPN neck + a head tensor, mmdet's top-level keys).
TEST(PretrainedBackbone, PrefixLoadsTheBackboneOfADetectorCheckpoint) {
  BackboneSpec spec = resnet_spec(18, "", "backbone.");
  spec.resnet.base_channels = 16;
  torch::manual_seed(4);
  auto source = build_backbone(spec);
  for (auto& p : source->parameters()) p.data().uniform_(-1, 1);
  FPNOptions fo;
  fo.in_channels = {16, 32, 64, 128};
  fo.out_channels = 32;
  FPN neck(fo);
  TensorDict sd;
  for (const auto& [k, v] : module_state_dict(*source)) sd.set("backbone." + k, v);
  for (const auto& [k, v] : module_state_dict(*neck)) sd.set("neck." + k, v);
  sd.set("mask_head.conv_cls.weight", torch::randn({3, 32, 3, 3}));
  const std::string file = test::temp_dir("pretrained_prefix") + "/epoch_12.pth";
  save_checkpoint(file, PyValue::dict(), sd);

  spec.pretrained.checkpoint = file;
  torch::manual_seed(5);
  auto backbone = build_backbone(spec);
  LoadedWeights w;
  const std::string log = log_of([&] { w = load_pretrained_backbone(*backbone, spec); });
  EXPECT_TRUE(w.report.ok()) << w.report.summary();  // neck.* and mask_head.* are not the backbone's
  EXPECT_EQ(w.report.loaded, module_state_dict(*backbone).size());
  expect_all_equal(*backbone, sd, "backbone.");
  EXPECT_NE(log.find("from " + file + " (prefix 'backbone.'): loaded"), std::string::npos) << log;

  // Without the prefix nothing fits: the error says what to set.
  spec.pretrained.prefix = "";
  const std::string err = test::error_message_of([&] { load_pretrained_backbone(*backbone, spec); });
  EXPECT_NE(err.find("no tensor fits the ResNet-18 backbone"), std::string::npos) << err;
  EXPECT_NE(err.find("prefix='backbone.'"), std::string::npos) << err;
}

// The same out of mmdetection's own SOLOv2 checkpoint (R-18 at base_channels 16).
TEST(PretrainedBackbone, PrefixLoadsTheBackboneOfMmdetsFixtureCheckpoint) {
  INSTSEG_REQUIRE_SHARED();
  const std::string file = test::shared_path("fixtures/solov2/checkpoint.pth");
  BackboneSpec spec = resnet_spec(18, file, "backbone.");
  spec.resnet.base_channels = 16;
  spec.resnet.frozen_stages = 1;
  auto backbone = build_backbone(spec);
  const LoadedWeights w = load_pretrained_backbone(*backbone, spec);
  EXPECT_TRUE(w.report.ok()) << w.report.summary();
  EXPECT_EQ(w.report.loaded, module_state_dict(*backbone).size());
  expect_all_equal(*backbone, load_state_dict(file), "backbone.");
}

}  // namespace
}  // namespace instseg
