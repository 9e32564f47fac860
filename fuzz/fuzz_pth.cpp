// .pth reader (zip and legacy torch.save files): read_pth must either return
// a value tree or throw instseg::Error; no crash, leak, hang, or allocation
// beyond what the file size justifies (e.g. a pickle claiming a 1 TB storage).
// read_pth runs the LibTorch-free PthArchive first; `instseg inspect`'s
// listing of the same tree is printed too.
#include "fuzz_util.h"
#include "instseg/checkpoint/inspect.h"
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/core/check.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = instseg::fuzz::write_input_file(data, size, ".pth");
  try {
    instseg::PthFile f = instseg::read_pth(path);
    // What the loaders do next: find the weights, list the tensors, print the tree.
    instseg::TensorDict d = instseg::tensor_entries(instseg::find_weights(f.root), true);
    for (const auto& kv : d) (void)kv.second.sum();  // every byte of every view is readable
    (void)f.root.repr(8, 16);
    const instseg::CheckpointInfo info = instseg::describe_checkpoint(f);
    (void)instseg::inspect_text(info);
    (void)instseg::inspect_json(info);
  } catch (const instseg::Error& e) {
    if (std::getenv("INSTSEG_FUZZ_VERBOSE")) std::fprintf(stderr, "instseg::Error: %s\n", e.what());
  }
  return 0;
}
