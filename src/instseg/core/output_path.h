// Output paths checked before the work that fills them: a typo in `--out`
// should fail in a second, not after an hour of inference.
//
//   check_output_file(args.out, "--out");      // before the model runs
//   check_output_dir(args.show_dir, "--show-dir");
#pragma once
#include <string>

namespace instseg {

// `path` (a file to be written later) must be writable: its directory must
// exist and be writable, and an existing `path` must be a writable regular
// file. Nothing is created. Throws instseg::Error
// "--out /nope/dir/res.json: directory /nope/dir does not exist". No-op for "".
void check_output_file(const std::string& path, const std::string& what);

// Creates the directory (and its parents) when missing and checks that it is
// a writable directory. No-op for "".
void check_output_dir(const std::string& dir, const std::string& what);

}  // namespace instseg
