// Helpers shared by the CLI end-to-end tests: running a command line, and the
// tiny `instseg train` setup (the nuclei SOLOv2-light config shrunk with
// --cfg-options to a few 256 x 256 training images at 128 px, batch 1).
#pragma once
#include <string>
#include <vector>

namespace instseg::test {

// Runs `cmd` through the shell with stderr merged into stdout; *rc is
// pclose's status (0 on success).
std::string run_command(const std::string& cmd, int* rc);

// <source dir>/<rel>
std::string source_path(const std::string& rel);

// The lines of `text` that contain `needle`.
std::vector<std::string> lines_with(const std::string& text, const std::string& needle);

// Writes <dir>/train<n>.json: the n 256 x 256 images of data/nuclei's
// training set with the fewest nuclei, and their annotations. Returns its path.
std::string write_small_nuclei_subset(const std::string& dir, int n = 2);

// "train <nuclei config> --work-dir W --device cpu EXTRA --cfg-options ..." for
// `epochs` epochs on `ann` (both loaders, batch 1, 128 px, validation every
// epoch, a checkpoint every epoch, log every iteration). Prefix it with the
// binary and global options (or a launcher).
std::string tiny_train_args(const std::string& ann, const std::string& work_dir, int epochs,
                            const std::string& extra = "");

}  // namespace instseg::test
