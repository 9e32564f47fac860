// The two executables of the CLI (tools/instseg/main.cpp, cmd_forwarded.cpp,
// command_list.cpp): `instseg` links no LibTorch, runs --help, --version, eval
// and inspect itself, and hands every other command to instseg-torch next to
// it with the same arguments, output and exit status.
#include "common/test_util.h"
#include "tools/cli_util.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace instseg {
namespace {

namespace fs = std::filesystem;

std::string torch_binary() { return test::instseg_binary() + "-torch"; }

// Runs `cmd` (stderr merged); *code = its exit status (-1 when it did not exit).
std::string run_status(const std::string& cmd, int* code) {
  int rc = -1;
  std::string out = test::run_command(cmd, &rc);
  *code = (rc != -1 && WIFEXITED(rc)) ? WEXITSTATUS(rc) : -1;
  return out;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The lines after "Subcommands:" of a --help text.
std::string subcommand_lines(const std::string& help) {
  const size_t at = help.find("Subcommands:");
  return at == std::string::npos ? "" : help.substr(at);
}

const std::vector<std::string> kCommands = {"inspect", "forward", "train", "launch", "eval", "test", "predict"};

// tests/data/checkpoint/inspect/<name>.{txt,json}: what `instseg inspect` printed
// when it ran in instseg-torch (main at 500c788, LibTorch's reader), "@PATH@"
// standing for the checkpoint's path.
std::string inspect_golden(const std::string& name, bool json, const std::string& path) {
  std::string text = test::read_bytes(test::data_path("checkpoint/inspect/" + name + (json ? ".json" : ".txt")));
  EXPECT_FALSE(text.empty()) << name;
  for (size_t at; (at = text.find("@PATH@")) != std::string::npos;) text.replace(at, 6, path);
  return text;
}

const std::vector<std::string> kInspectFixtures = {"mmdet_zip",  "mmdet_legacy", "meta_zip",   "meta_legacy",
                                                   "views_zip",  "views_legacy", "dtypes_zip", "dtypes_legacy"};

TEST(CliFrontend, InstsegLoadsNoLibTorch) {
  ASSERT_TRUE(fs::exists(test::instseg_binary())) << test::instseg_binary();
  ASSERT_TRUE(fs::exists(torch_binary())) << torch_binary();
  int code = -1;
  // ldd lists the whole closure of shared libraries the loader would map.
  const std::string light = run_status("ldd " + test::instseg_binary(), &code);
  ASSERT_EQ(code, 0) << light;
  EXPECT_TRUE(has(light, "libc.so")) << light;
  for (const std::string lib : {"libtorch", "libc10", "libopencv", "libyaml-cpp"})
    EXPECT_FALSE(has(light, lib)) << lib << " is loaded by instseg:\n" << light;
  // The same check sees LibTorch where it is.
  const std::string heavy = run_status("ldd " + torch_binary(), &code);
  ASSERT_EQ(code, 0) << heavy;
  EXPECT_TRUE(has(heavy, "libc10")) << heavy;
  // What the loader maps while instseg runs its own commands (nothing dlopen'ed either),
  // inspect on a zip and a legacy file included.
  for (const std::string& args : std::vector<std::string>{" --help", " inspect " + test::data_path("checkpoint/mmdet_zip.pth"),
                                                         " inspect " + test::data_path("checkpoint/mmdet_legacy.pth") + " --json"}) {
    // (run_status() adds "2>&1": the subshell keeps the loader's stderr and drops the program's stdout.)
    const std::string loaded = run_status("(LD_DEBUG=libs " + test::instseg_binary() + args + " 2>&1 >/dev/null)", &code);
    EXPECT_EQ(code, 0) << args << "\n" << loaded;
    EXPECT_TRUE(has(loaded, "calling init")) << "LD_DEBUG shows nothing:\n" << loaded;
    for (const std::string lib : {"libtorch", "libc10"})
      EXPECT_FALSE(has(loaded, lib)) << lib << " is loaded by instseg" << args << ":\n" << loaded;
  }
  const std::string heavy_loaded = run_status("(LD_DEBUG=libs " + torch_binary() + " --help 2>&1 >/dev/null)", &code);
  EXPECT_TRUE(has(heavy_loaded, "libc10")) << heavy_loaded;
}

// `instseg inspect` runs in instseg itself (here a copy with no instseg-torch
// next to it) and prints, text and --json, what it printed when it was
// instseg-torch's command; instseg-torch prints the same.
TEST(CliFrontend, InspectRunsInInstsegAndPrintsWhatInstsegTorchPrinted) {
  const std::string dir = test::temp_dir("cli_frontend_inspect");
  const std::string lone = dir + "/instseg";
  fs::copy_file(test::instseg_binary(), lone, fs::copy_options::overwrite_existing);
  int code = -1;
  for (const std::string& name : kInspectFixtures) {
    const std::string path = test::data_path("checkpoint/" + name + ".pth");
    for (bool json : {false, true}) {
      const std::string args = " inspect " + path + (json ? " --json" : "");
      const std::string expected = inspect_golden(name, json, path);
      // instseg: nothing on stderr either (instseg-torch logs its LibTorch thread setting there).
      std::string out = run_status(lone + args + " 2>&1", &code);
      EXPECT_EQ(code, 0) << out;
      EXPECT_EQ(out, expected) << name << (json ? " --json" : "");
      out = run_status("(" + torch_binary() + args + " 2>/dev/null)", &code);
      EXPECT_EQ(code, 0) << out;
      EXPECT_EQ(out, expected) << "instseg-torch " << name << (json ? " --json" : "");
    }
  }
  // A bad file: exit status 1 and an error naming the file, the problem and where.
  const std::string bytes = test::read_bytes(test::data_path("checkpoint/mmdet_legacy.pth"));
  const std::string cut = dir + "/cut.pth";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  std::string out = run_status(lone + " inspect " + cut + " 2>&1", &code);
  EXPECT_EQ(code, 1) << out;
  EXPECT_TRUE(has(out, cut + ": ")) << out;
  EXPECT_TRUE(has(out, "at byte ")) << out;
  out = run_status(lone + " inspect " + dir + "/missing.pth 2>&1", &code);
  EXPECT_EQ(code, 1) << out;
  EXPECT_TRUE(has(out, dir + "/missing.pth: cannot open file")) << out;
}

TEST(CliFrontend, HelpListsEveryCommandAsInstsegTorchDoes) {
  int code = -1;
  const std::string help = run_status(test::instseg_binary() + " --help", &code);
  ASSERT_EQ(code, 0) << help;
  for (const std::string& c : kCommands) EXPECT_TRUE(has(subcommand_lines(help), "\n  " + c + " ")) << c << "\n" << help;
  const std::string torch_help = run_status(torch_binary() + " --help", &code);
  ASSERT_EQ(code, 0) << torch_help;
  EXPECT_EQ(subcommand_lines(help), subcommand_lines(torch_help));
  EXPECT_FALSE(subcommand_lines(help).empty());
}

// A copy of instseg alone in a directory: what it does without instseg-torch.
TEST(CliFrontend, WithoutInstsegTorchHelpVersionAndEvalStillRun) {
  const std::string dir = test::temp_dir("cli_frontend_alone");
  const std::string lone = dir + "/instseg";
  fs::copy_file(test::instseg_binary(), lone, fs::copy_options::overwrite_existing);
  int code = -1;
  std::string out = run_status(lone + " --version", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_TRUE(has(out, "instseg 0.1.0")) << out;
  out = run_status(lone + " --help", &code);
  EXPECT_EQ(code, 0) << out;
  const std::string data = test::data_path("eval/case1_basic");
  out = run_status(lone + " --log-level error eval --ann " + data + "/gt.json --results " + data + "/dets.json", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_TRUE(has(out, "segm_mAP_copypaste")) << out;
  // A LibTorch command says which program it needs and where it looked.
  out = run_status(lone + " train some_config.yaml", &code);
  EXPECT_EQ(code, 1) << out;
  EXPECT_TRUE(has(out, "instseg train runs in instseg-torch")) << out;
  EXPECT_TRUE(has(out, dir + "/instseg-torch")) << out;
  EXPECT_TRUE(has(out, "No such file")) << out;
}

TEST(CliFrontend, TorchCommandsGetTheirArgumentsHelpAndExitStatus) {
  int code = -1;
  // --help after a LibTorch command is that command's own help.
  std::string out = run_status(test::instseg_binary() + " train --help", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_TRUE(has(out, "--work-dir")) << out;
  EXPECT_TRUE(has(out, "--resume")) << out;
  // Arguments arrive unchanged (a space inside one), global options on either
  // side of the command too, and the exit status is instseg-torch's.
  const std::string missing = test::temp_dir("cli_frontend_args") + "/no such dir/x.pth";
  // (test's checkpoint must exist: CLI11's error, exit status 105.)
  const std::string args = " --log-level warning test " +
                           test::source_path("configs/solov2/solov2-light_r18_fpn_nuclei.yaml") + " '" + missing +
                           "' --threads 1";
  out = run_status(test::instseg_binary() + args, &code);
  int torch_code = -2;
  const std::string torch_out = run_status(torch_binary() + args, &torch_code);
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(code, 1) << out;  // 1 is what a failed exec would give
  EXPECT_EQ(code, torch_code) << torch_out;
  EXPECT_TRUE(has(out, missing)) << out;
  // A CLI11 error of the forwarded command: its exit code, not instseg's.
  out = run_status(test::instseg_binary() + " launch --nnodes 0 -- train x", &code);
  run_status(torch_binary() + " launch --nnodes 0 -- train x", &torch_code);
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(code, 1) << out;  // 1 is what a failed exec would give
  EXPECT_EQ(code, torch_code) << out;
  EXPECT_TRUE(has(out, "nnodes")) << out;
}

TEST(CliFrontend, InstsegOwnParseErrorsStayInInstseg) {
  int code = -1;
  const std::string out = run_status(test::instseg_binary() + " --threads -1 eval --ann a --results b", &code);
  EXPECT_NE(code, 0) << out;
  EXPECT_TRUE(has(out, "expected 0 (auto, the default) or a positive number of threads")) << out;
  const std::string none = run_status(test::instseg_binary() + " no-such-command", &code);
  EXPECT_NE(code, 0) << none;
}

}  // namespace
}  // namespace instseg
