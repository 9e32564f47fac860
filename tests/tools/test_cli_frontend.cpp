// The two executables of the CLI (tools/instseg/main.cpp, cmd_forwarded.cpp,
// command_list.cpp): `instseg` links no LibTorch, runs --help, --version and
// eval itself, and hands every other command to instseg-torch next to it with
// the same arguments, output and exit status.
#include "common/test_util.h"
#include "tools/cli_util.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <string>
#include <vector>

namespace instseg {
namespace {

namespace fs = std::filesystem;

std::string torch_binary() { return test::instseg_binary() + "-torch"; }

// Runs `cmd` (stderr merged); *code = its exit status (-1 when it did not exit).
std::string run(const std::string& cmd, int* code) {
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

TEST(CliFrontend, InstsegLoadsNoLibTorch) {
  ASSERT_TRUE(fs::exists(test::instseg_binary())) << test::instseg_binary();
  ASSERT_TRUE(fs::exists(torch_binary())) << torch_binary();
  int code = -1;
  // ldd lists the whole closure of shared libraries the loader would map.
  const std::string light = run("ldd " + test::instseg_binary(), &code);
  ASSERT_EQ(code, 0) << light;
  EXPECT_TRUE(has(light, "libc.so")) << light;
  for (const std::string lib : {"libtorch", "libc10", "libopencv", "libyaml-cpp"})
    EXPECT_FALSE(has(light, lib)) << lib << " is loaded by instseg:\n" << light;
  // The same check sees LibTorch where it is.
  const std::string heavy = run("ldd " + torch_binary(), &code);
  ASSERT_EQ(code, 0) << heavy;
  EXPECT_TRUE(has(heavy, "libc10")) << heavy;
}

TEST(CliFrontend, HelpListsEveryCommandAsInstsegTorchDoes) {
  int code = -1;
  const std::string help = run(test::instseg_binary() + " --help", &code);
  ASSERT_EQ(code, 0) << help;
  for (const std::string& c : kCommands) EXPECT_TRUE(has(subcommand_lines(help), "\n  " + c + " ")) << c << "\n" << help;
  const std::string torch_help = run(torch_binary() + " --help", &code);
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
  std::string out = run(lone + " --version", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_TRUE(has(out, "instseg 0.1.0")) << out;
  out = run(lone + " --help", &code);
  EXPECT_EQ(code, 0) << out;
  const std::string data = test::data_path("eval/case1_basic");
  out = run(lone + " --log-level error eval --ann " + data + "/gt.json --results " + data + "/dets.json", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_TRUE(has(out, "segm_mAP_copypaste")) << out;
  // A LibTorch command says which program it needs and where it looked.
  out = run(lone + " train some_config.yaml", &code);
  EXPECT_EQ(code, 1) << out;
  EXPECT_TRUE(has(out, "instseg train runs in instseg-torch")) << out;
  EXPECT_TRUE(has(out, dir + "/instseg-torch")) << out;
  EXPECT_TRUE(has(out, "No such file")) << out;
}

TEST(CliFrontend, TorchCommandsGetTheirArgumentsHelpAndExitStatus) {
  int code = -1;
  // --help after a LibTorch command is that command's own help.
  std::string out = run(test::instseg_binary() + " train --help", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_TRUE(has(out, "--work-dir")) << out;
  EXPECT_TRUE(has(out, "--resume")) << out;
  // Arguments arrive unchanged (a space inside one), global options on either
  // side of the command too, and the exit status is instseg-torch's.
  const std::string missing = test::temp_dir("cli_frontend_args") + "/no such dir/x.pth";
  const std::string args = " --log-level warning inspect '" + missing + "' --threads 1";
  out = run(test::instseg_binary() + args, &code);
  int torch_code = -2;
  const std::string torch_out = run(torch_binary() + args, &torch_code);
  EXPECT_EQ(code, 1) << out;
  EXPECT_EQ(code, torch_code) << torch_out;
  EXPECT_TRUE(has(out, missing)) << out;
  // A CLI11 error of the forwarded command: its exit code, not instseg's.
  out = run(test::instseg_binary() + " launch --nnodes 0 -- train x", &code);
  run(torch_binary() + " launch --nnodes 0 -- train x", &torch_code);
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(code, 1) << out;  // 1 is what a failed exec would give
  EXPECT_EQ(code, torch_code) << out;
  EXPECT_TRUE(has(out, "nnodes")) << out;
}

TEST(CliFrontend, InstsegOwnParseErrorsStayInInstseg) {
  int code = -1;
  const std::string out = run(test::instseg_binary() + " --threads -1 eval --ann a --results b", &code);
  EXPECT_NE(code, 0) << out;
  EXPECT_TRUE(has(out, "expected 0 (auto, the default) or a positive number of threads")) << out;
  const std::string none = run(test::instseg_binary() + " no-such-command", &code);
  EXPECT_NE(code, 0) << none;
}

}  // namespace
}  // namespace instseg
