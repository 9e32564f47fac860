// model_zoo: mmengine's checkpoint names -> files of PyTorch's hub cache
// (torch.hub.get_dir()'s rules for TORCH_HOME / XDG_CACHE_HOME / HOME) and the
// URL to download a missing one from.
#include "instseg/checkpoint/model_zoo.h"

#include "common/test_util.h"
#include "common/error_of.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace instseg {
namespace {


// Sets (or, with nullptr, unsets) environment variables for one scope.
class EnvGuard {
 public:
  EnvGuard(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (const auto& [name, value] : vars) {
      const char* old = std::getenv(name);
      saved_.emplace(name, old ? std::optional<std::string>(old) : std::nullopt);
      if (value) setenv(name, value, 1);
      else unsetenv(name);
    }
  }
  ~EnvGuard() {
    for (const auto& [name, value] : saved_) {
      if (value) setenv(name.c_str(), value->c_str(), 1);
      else unsetenv(name.c_str());
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

TEST(ModelZoo, HubDirFollowsTorch) {
  {
    EnvGuard g{{"TORCH_HOME", "/data/torch"}, {"XDG_CACHE_HOME", "/xdg"}, {"HOME", "/home/u"}};
    EXPECT_EQ(torch_hub_dir(), "/data/torch/hub");
  }
  {
    EnvGuard g{{"TORCH_HOME", nullptr}, {"XDG_CACHE_HOME", "/xdg"}, {"HOME", "/home/u"}};
    EXPECT_EQ(torch_hub_dir(), "/xdg/torch/hub");
  }
  {
    EnvGuard g{{"TORCH_HOME", ""}, {"XDG_CACHE_HOME", ""}, {"HOME", "/home/u"}};
    EXPECT_EQ(torch_hub_dir(), "/home/u/.cache/torch/hub");
  }
  {
    EnvGuard g{{"TORCH_HOME", "~/models"}, {"HOME", "/home/u"}};
    EXPECT_EQ(torch_hub_dir(), "/home/u/models/hub");
  }
}

TEST(ModelZoo, TorchvisionNamesAreTorchvisionsFiles) {
  EnvGuard g{{"TORCH_HOME", "/th"}};
  const ZooCheckpoint r50 = resolve_checkpoint("torchvision://resnet50");
  EXPECT_EQ(r50.name, "torchvision://resnet50");
  EXPECT_EQ(r50.path, "/th/hub/checkpoints/resnet50-0676ba61.pth");
  EXPECT_EQ(r50.url, "https://download.pytorch.org/models/resnet50-0676ba61.pth");
  // torchvision >= 0.13 weight names (mmengine's keys); DEFAULT is V2 where there is one.
  EXPECT_EQ(resolve_checkpoint("torchvision://resnet50.imagenet1k_v2").path,
            "/th/hub/checkpoints/resnet50-11ad3fa6.pth");
  EXPECT_EQ(resolve_checkpoint("torchvision://resnet50.default").path, "/th/hub/checkpoints/resnet50-11ad3fa6.pth");
  EXPECT_EQ(resolve_checkpoint("torchvision://resnet18.default").path, "/th/hub/checkpoints/resnet18-f37072fd.pth");
  EXPECT_EQ(resolve_checkpoint("modelzoo://resnet101").url,
            "https://download.pytorch.org/models/resnet101-63fe2227.pth");
  EXPECT_EQ(resolve_checkpoint("torchvision://resnext101_32x8d").path,
            "/th/hub/checkpoints/resnext101_32x8d-8ba56ff5.pth");
  const std::string err = test::error_message_of([] { resolve_checkpoint("torchvision://resnet51"); });
  EXPECT_NE(err.find("checkpoint 'torchvision://resnet51': unknown torchvision model 'resnet51' (instseg knows "
                     "torchvision://: resnet18, "),
            std::string::npos)
      << err;
}

TEST(ModelZoo, OpenmmlabNamesAreMmenginesFiles) {
  EnvGuard g{{"TORCH_HOME", "/th"}};
  const ZooCheckpoint x = resolve_checkpoint("open-mmlab://resnext101_64x4d");
  EXPECT_EQ(x.path, "/th/hub/checkpoints/resnext101_64x4d-ee2c6f71.pth");
  EXPECT_EQ(x.url, "https://download.openmmlab.com/pretrain/third_party/resnext101_64x4d-ee2c6f71.pth");
  EXPECT_EQ(resolve_checkpoint("openmmlab://resnext50_32x4d").path,
            "/th/hub/checkpoints/resnext50-32x4d-0ab1a123.pth");
  EXPECT_EQ(resolve_checkpoint("open-mmlab://detectron2/resnet50_caffe").path,
            "/th/hub/checkpoints/resnet50_msra-5891d200.pth");
  EXPECT_NE(test::error_message_of([] { resolve_checkpoint("open-mmlab://vgg16_caffe"); })
                .find("unknown open-mmlab model 'vgg16_caffe' (instseg knows open-mmlab://: resnext50_32x4d"),
            std::string::npos);
  EXPECT_EQ(known_openmmlab_checkpoints().size(), 10u);
}

TEST(ModelZoo, UrlsAndLocalPaths) {
  EnvGuard g{{"TORCH_HOME", "/th"}, {"HOME", "/home/u"}};
  // load_from / checkpoint as a URL: torch.hub's file name (query dropped).
  const ZooCheckpoint u = resolve_checkpoint(
      "https://download.openmmlab.com/mmdetection/v2.0/solov2/solov2_r50_fpn_1x_coco/"
      "solov2_r50_fpn_1x_coco_20220512_125858-a357fa23.pth?x=1");
  EXPECT_EQ(u.path, "/th/hub/checkpoints/solov2_r50_fpn_1x_coco_20220512_125858-a357fa23.pth");
  EXPECT_NE(u.url.find("https://download.openmmlab.com/"), std::string::npos);
  const ZooCheckpoint local = resolve_checkpoint("work_dirs/a/epoch_3.pth");
  EXPECT_EQ(local.path, "work_dirs/a/epoch_3.pth");
  EXPECT_EQ(local.url, "");
  EXPECT_EQ(resolve_checkpoint("~/w.pth").path, "/home/u/w.pth");
  EXPECT_NE(test::error_message_of([] { resolve_checkpoint("s3://bucket/w.pth"); }).find("unsupported scheme 's3://'"),
            std::string::npos);
}

TEST(ModelZoo, MissingFileNamesThePathAndTheUrl) {
  const std::string home = test::temp_dir("model_zoo");
  EnvGuard g{{"TORCH_HOME", home.c_str()}};
  const std::string err = test::error_message_of([] { locate_checkpoint("torchvision://resnet50"); });
  const std::string path = home + "/hub/checkpoints/resnet50-0676ba61.pth";
  EXPECT_NE(err.find("checkpoint 'torchvision://resnet50': " + path + " does not exist; instseg downloads nothing: "
                     "download https://download.pytorch.org/models/resnet50-0676ba61.pth into " +
                     home + "/hub/checkpoints/"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("TORCH_HOME"), std::string::npos) << err;
  EXPECT_EQ(test::error_message_of([&] { locate_checkpoint(home + "/nope.pth"); }),
            "checkpoint '" + home + "/nope.pth': " + home + "/nope.pth does not exist");
  // Present: the path.
  std::filesystem::create_directories(home + "/hub/checkpoints");
  std::ofstream(path) << "x";
  EXPECT_EQ(locate_checkpoint("torchvision://resnet50"), path);
  EXPECT_EQ(locate_checkpoint(path), path);
}

}  // namespace
}  // namespace instseg
