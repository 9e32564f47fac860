// The subcommands, their one-line descriptions and which executable runs
// them. One table for both executables: `instseg --help` lists every command
// although instseg-torch defines the LibTorch ones.
#include "commands.h"

#include "instseg/core/check.h"

namespace instseg::cli {

const std::vector<CommandInfo>& command_list() {
  // `instseg --help` order. inspect and eval are LibTorch-free: inspect lists
  // the weights from their descriptions (checkpoint/inspect.h).
  static const std::vector<CommandInfo> list = {
      {"inspect", "Print a .pth checkpoint's format, meta, and every weight's shape and dtype", false},
      {"forward", "Run the network on a normalised, padded batch (IN.pt) and write named intermediate tensors", true},
      {"train", "Train a model from a config (mmdetection's tools/train.py)", true},
      {"launch", "Run N local copies of an instseg command for distributed training (torchrun-style)", true},
      {"eval", "COCO bbox/segm evaluation of a results JSON (pycocotools-exact numbers)", false},
      {"test", "Evaluate a checkpoint on the config's test_dataloader with test_evaluator's COCO metrics", true},
      {"predict", "Run a checkpoint on images: overlay PNGs and a COCO results JSON", true},
      {"bench", "Time the inference path stage by stage (decode, preprocess, network, post-processing)", true},
      {"publish", "Strip a training checkpoint to meta and state_dict for shipping (mmdet's publish_model.py)", true},
      {"widen", "Carry a trained SOLOv2 checkpoint into a wider model of a config (Net2WiderNet), for load_from", true},
  };
  return list;
}

const CommandInfo& command_info(const std::string& name) {
  for (const CommandInfo& c : command_list())
    if (name == c.name) return c;
  fail("instseg: no command '", name, "' in tools/instseg/command_list.cpp");
}

}  // namespace instseg::cli
