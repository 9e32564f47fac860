#include "instseg/checkpoint/model_zoo.h"

#include "instseg/core/check.h"

#include <cstdlib>
#include <filesystem>
#include <utility>

namespace instseg {
namespace {
namespace fs = std::filesystem;

struct ZooEntry {
  const char* name;
  const char* file;  // the URL's last component = the hub cache's file name
};

// torchvision's model URLs (torchvision 0.14 weight enums; the plain names are
// the IMAGENET1K_V1 files, as in mmengine's torchvision_0.12.json). Only the
// ResNet family: the backbones instseg builds.
constexpr const char* kTorchvisionBase = "https://download.pytorch.org/models/";
const ZooEntry kTorchvision[] = {
    {"resnet18", "resnet18-f37072fd.pth"},
    {"resnet18.imagenet1k_v1", "resnet18-f37072fd.pth"},
    {"resnet18.default", "resnet18-f37072fd.pth"},
    {"resnet34", "resnet34-b627a593.pth"},
    {"resnet34.imagenet1k_v1", "resnet34-b627a593.pth"},
    {"resnet34.default", "resnet34-b627a593.pth"},
    {"resnet50", "resnet50-0676ba61.pth"},
    {"resnet50.imagenet1k_v1", "resnet50-0676ba61.pth"},
    {"resnet50.imagenet1k_v2", "resnet50-11ad3fa6.pth"},
    {"resnet50.default", "resnet50-11ad3fa6.pth"},
    {"resnet101", "resnet101-63fe2227.pth"},
    {"resnet101.imagenet1k_v1", "resnet101-63fe2227.pth"},
    {"resnet101.imagenet1k_v2", "resnet101-cd907fc2.pth"},
    {"resnet101.default", "resnet101-cd907fc2.pth"},
    {"resnet152", "resnet152-394f9c45.pth"},
    {"resnet152.imagenet1k_v1", "resnet152-394f9c45.pth"},
    {"resnet152.imagenet1k_v2", "resnet152-f82ba261.pth"},
    {"resnet152.default", "resnet152-f82ba261.pth"},
    {"resnext50_32x4d", "resnext50_32x4d-7cdf4587.pth"},
    {"resnext50_32x4d.imagenet1k_v1", "resnext50_32x4d-7cdf4587.pth"},
    {"resnext50_32x4d.imagenet1k_v2", "resnext50_32x4d-1a0047aa.pth"},
    {"resnext50_32x4d.default", "resnext50_32x4d-1a0047aa.pth"},
    {"resnext101_32x8d", "resnext101_32x8d-8ba56ff5.pth"},
    {"resnext101_32x8d.imagenet1k_v1", "resnext101_32x8d-8ba56ff5.pth"},
    {"resnext101_32x8d.imagenet1k_v2", "resnext101_32x8d-110c445d.pth"},
    {"resnext101_32x8d.default", "resnext101_32x8d-110c445d.pth"},
    // New in torchvision 0.13: no pre-0.13 name.
    {"resnext101_64x4d.imagenet1k_v1", "resnext101_64x4d-173b62eb.pth"},
    {"resnext101_64x4d.default", "resnext101_64x4d-173b62eb.pth"},
};

// mmengine's hub/openmmlab.json, the ResNet / ResNeXt entries instseg's ResNet
// can hold (the caffe ones with style='caffe', as in mmdet; the *_v1c ones need
// deep_stem, which instseg does not implement).
// deprecated.json's resnet50_caffe / resnet101_caffe point at the detectron/ files.
constexpr const char* kOpenmmlabBase = "https://download.openmmlab.com/pretrain/third_party/";
const ZooEntry kOpenmmlab[] = {
    {"resnext50_32x4d", "resnext50-32x4d-0ab1a123.pth"},
    {"resnext101_32x4d", "resnext101_32x4d-a5af3160.pth"},
    {"resnext101_64x4d", "resnext101_64x4d-ee2c6f71.pth"},
    {"resnet50_caffe", "resnet50_caffe-788b5fa3.pth"},
    {"resnet101_caffe", "resnet101_caffe-3ad79236.pth"},
    {"detectron/resnet50_caffe", "resnet50_caffe-788b5fa3.pth"},
    {"detectron/resnet101_caffe", "resnet101_caffe-3ad79236.pth"},
    {"detectron2/resnet50_caffe", "resnet50_msra-5891d200.pth"},
    {"detectron2/resnet101_caffe", "resnet101_msra-6cc46731.pth"},
    {"detectron2/resnext101_32x8d", "resnext101_32x8d-1516f1aa.pth"},
};

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// os.path.expanduser for "~" and "~/...".
std::string expand_user(const std::string& p) {
  if (p.empty() || p[0] != '~' || (p.size() > 1 && p[1] != '/')) return p;
  const std::string home = env_or_empty("HOME");
  if (home.empty()) return p;
  return home + p.substr(1);
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

template <size_t N>
std::vector<std::string> names_of(const ZooEntry (&table)[N]) {
  std::vector<std::string> out;
  for (const auto& e : table) out.emplace_back(e.name);
  return out;
}

template <size_t N>
ZooCheckpoint from_table(const std::string& given, const std::string& scheme, const std::string& model,
                         const ZooEntry (&table)[N], const char* base, const char* source) {
  for (const auto& e : table)
    if (model == e.name) {
      ZooCheckpoint c;
      c.name = given;
      c.path = (fs::path(torch_hub_dir()) / "checkpoints" / e.file).string();
      c.url = std::string(base) + e.file;
      return c;
    }
  std::string known;
  for (const auto& n : names_of(table)) known += (known.empty() ? "" : ", ") + n;
  fail("checkpoint '", given, "': unknown ", source, " model '", model, "' (instseg knows ", scheme, ": ", known,
       "; or give the path of a .pth file)");
}

}  // namespace

std::string torch_hub_dir() {
  std::string home = env_or_empty("TORCH_HOME");
  if (home.empty()) {
    std::string cache = env_or_empty("XDG_CACHE_HOME");
    if (cache.empty()) cache = "~/.cache";
    home = (fs::path(expand_user(cache)) / "torch").string();
  }
  return (fs::path(expand_user(home)) / "hub").string();
}

std::vector<std::string> known_torchvision_checkpoints() { return names_of(kTorchvision); }
std::vector<std::string> known_openmmlab_checkpoints() { return names_of(kOpenmmlab); }

ZooCheckpoint resolve_checkpoint(const std::string& name) {
  INSTSEG_CHECK(!name.empty(), "resolve_checkpoint: empty checkpoint name");
  for (const char* scheme : {"torchvision://", "modelzoo://"})
    if (starts_with(name, scheme))
      return from_table(name, "torchvision://", name.substr(std::string(scheme).size()), kTorchvision,
                        kTorchvisionBase, "torchvision");
  for (const char* scheme : {"open-mmlab://", "openmmlab://"})
    if (starts_with(name, scheme))
      return from_table(name, "open-mmlab://", name.substr(std::string(scheme).size()), kOpenmmlab,
                        kOpenmmlabBase, "open-mmlab");
  if (starts_with(name, "http://") || starts_with(name, "https://")) {
    // torch.hub.load_state_dict_from_url: the file name is the URL path's last
    // component (query and fragment dropped).
    std::string path = name.substr(name.find("://") + 3);
    path = path.substr(0, path.find_first_of("?#"));
    const size_t slash = path.find_last_of('/');
    const std::string file = slash == std::string::npos ? std::string() : path.substr(slash + 1);
    if (file.empty()) fail("checkpoint '", name, "': the URL names no file");
    ZooCheckpoint c;
    c.name = name;
    c.path = (fs::path(torch_hub_dir()) / "checkpoints" / file).string();
    c.url = name;
    return c;
  }
  const auto colon = name.find("://");
  if (colon != std::string::npos)
    fail("checkpoint '", name, "': unsupported scheme '", name.substr(0, colon + 3),
         "' (instseg reads local files, torchvision://, open-mmlab:// and http(s):// names of files "
         "in the hub cache)");
  ZooCheckpoint c;
  c.name = name;
  c.path = expand_user(name);
  return c;
}

std::string locate_checkpoint(const std::string& name) {
  const ZooCheckpoint c = resolve_checkpoint(name);
  std::error_code ec;
  if (fs::is_regular_file(c.path, ec)) return c.path;
  if (c.url.empty()) {
    if (fs::exists(c.path, ec)) fail("checkpoint '", name, "': ", c.path, " is not a regular file");
    fail("checkpoint '", name, "': ", c.path, " does not exist");
  }
  const std::string dir = fs::path(c.path).parent_path().string();
  fail("checkpoint '", name, "': ", c.path, " does not exist; instseg downloads nothing: download ", c.url,
       " into ", dir, "/ (e.g. `mkdir -p ", dir, " && wget -P ", dir, " ", c.url,
       "`), or set TORCH_HOME to the directory whose hub/checkpoints/ holds it");
}

}  // namespace instseg
