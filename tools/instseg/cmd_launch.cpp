// `instseg launch -n N [--nnodes M --node-rank R --master-addr A --master-port P] -- train ...`:
// runs N copies of this program with torchrun's variables set (see
// engine/launch.h). `torchrun --no-python --nproc-per-node N instseg train ...`
// is equivalent (docs/training.md has the torch 1.13 spelling). Each process
// gets OMP_NUM_THREADS: the global --threads, else the inherited value, else
// available CPUs / N.
#include "commands.h"

#include "instseg/core/threads.h"
#include "instseg/engine/launch.h"

#include <cstdlib>
#include <memory>

namespace instseg::cli {

void add_launch_command(CLI::App& app) {
  struct Args {
    LaunchOptions o;
    std::vector<std::string> command;
  };
  auto args = std::make_shared<Args>();
  args->o.master_port = 0;
  CLI::App* cmd = app.add_subcommand("launch", command_info("launch").description);
  cmd->add_option("-n,--nproc-per-node", args->o.nproc_per_node, "processes on this node (one per GPU)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--nnodes", args->o.nnodes, "number of nodes")->check(CLI::PositiveNumber);
  cmd->add_option("--node-rank", args->o.node_rank, "rank of this node (0..nnodes-1)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--master-addr", args->o.master_addr, "address of the node running rank 0");
  cmd->add_option("--master-port", args->o.master_port,
                  "TCP port of the rendezvous store (default: a free port; required with --nnodes > 1)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--timeout", args->o.timeout_s, "stop all processes after this many seconds (0: none)");
  cmd->footer("Everything after -- is the command each process runs, e.g.\n"
              "  instseg launch -n 8 -- train configs/solov2_r50_fpn_1x_coco.yaml --work-dir work_dirs/solov2");
  // After "--" every argument (options included) belongs to the command.
  cmd->add_option("command", args->command, "the instseg command each process runs (after --)")
      ->required();
  cmd->callback([args]() {
    const std::vector<std::string>& rest = args->command;
    LaunchOptions o = args->o;
    o.argv.push_back(self_executable());
    o.argv.insert(o.argv.end(), rest.begin(), rest.end());
    o.omp_num_threads = launch_omp_num_threads(global_options().threads, std::getenv("OMP_NUM_THREADS"),
                                               available_cpus(), o.nproc_per_node);
    int code = launch_local(o);
    if (code != 0) std::exit(code);
  });
}

}  // namespace instseg::cli
