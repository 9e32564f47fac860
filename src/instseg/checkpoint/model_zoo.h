// Checkpoint names as mmengine's load_checkpoint reads them, resolved to files
// in PyTorch's hub cache. instseg downloads nothing: a missing file is an error
// naming the path it expects and the URL to download it from.
//
//   ZooCheckpoint c = resolve_checkpoint("torchvision://resnet50");
//   // c.path = ~/.cache/torch/hub/checkpoints/resnet50-0676ba61.pth
//   // c.url  = https://download.pytorch.org/models/resnet50-0676ba61.pth
//   std::string file = locate_checkpoint("torchvision://resnet50");  // throws when missing
//
// Names (mmengine's CheckpointLoader schemes):
// * `torchvision://NAME` (and the deprecated `modelzoo://NAME`): the ResNet
//   family of torchvision's model URLs. NAME is the pre-0.13 name (resnet50:
//   IMAGENET1K_V1 weights, what mmengine's torchvision_0.12.json maps it to) or
//   `NAME.imagenet1k_v1` / `NAME.imagenet1k_v2` / `NAME.default` (mmengine's
//   keys for torchvision >= 0.13's weight enums). Supported NAMEs:
//   known_torchvision_checkpoints().
// * `open-mmlab://NAME` / `openmmlab://NAME`: the ResNet / ResNeXt entries of
//   mmengine's hub/openmmlab.json (download.openmmlab.com/pretrain/third_party/):
//   known_openmmlab_checkpoints().
// * `http://...` / `https://...`: the URL's file name in the hub cache (where
//   torch.hub.load_state_dict_from_url would have put it).
// * anything else: a local path ("~" expanded).
//
// The hub cache is torch.hub.get_dir() + "/checkpoints": $TORCH_HOME/hub,
// else $XDG_CACHE_HOME/torch/hub, else ~/.cache/torch/hub.
#pragma once
#include <string>
#include <vector>

namespace instseg {

struct ZooCheckpoint {
  std::string name;  // as given: "torchvision://resnet50"
  std::string path;  // the local file it stands for
  std::string url;   // where a user downloads it from; "" for a local path
};

// torch.hub.get_dir(): $TORCH_HOME/hub, $XDG_CACHE_HOME/torch/hub or
// ~/.cache/torch/hub (an empty variable counts as unset).
std::string torch_hub_dir();

// Resolves a name to its file and URL; does not look at the file. Throws
// instseg::Error for an unknown torchvision:// or open-mmlab:// name, listing
// the known ones.
ZooCheckpoint resolve_checkpoint(const std::string& name);

// resolve_checkpoint + the file must exist: otherwise instseg::Error
// "<name>: <path> does not exist; instseg downloads nothing: download <url>
// into <dir>/ (or set TORCH_HOME ...)".
std::string locate_checkpoint(const std::string& name);

// The names resolve_checkpoint knows after "torchvision://" and "open-mmlab://".
std::vector<std::string> known_torchvision_checkpoints();
std::vector<std::string> known_openmmlab_checkpoints();

}  // namespace instseg
