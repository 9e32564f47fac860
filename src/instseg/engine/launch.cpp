#include "instseg/engine/launch.h"

#include "instseg/core/check.h"
#include "instseg/core/clock.h"
#include "instseg/core/log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

extern char** environ;

namespace instseg {

namespace {

std::atomic<int> g_signal{0};
void on_signal(int sig) { g_signal = sig; }

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// Kills the still-running children: SIGTERM, wait up to grace_s, SIGKILL.
void stop_all(std::vector<pid_t>& pids, std::vector<bool>& alive, int first_signal, double grace_s) {
  for (size_t i = 0; i < pids.size(); ++i)
    if (alive[i]) ::kill(pids[i], first_signal);
  const double deadline = now_s() + grace_s;
  for (;;) {
    bool any = false;
    for (size_t i = 0; i < pids.size(); ++i) {
      if (!alive[i]) continue;
      int st = 0;
      pid_t r = ::waitpid(pids[i], &st, WNOHANG);
      if (r == pids[i] || (r < 0 && errno == ECHILD)) alive[i] = false;
      else any = true;
    }
    if (!any) return;
    if (now_s() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (size_t i = 0; i < pids.size(); ++i) {
    if (!alive[i]) continue;
    ::kill(pids[i], SIGKILL);
    int st = 0;
    ::waitpid(pids[i], &st, 0);
    alive[i] = false;
  }
}

}  // namespace

int find_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail("launch: socket() failed: ", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    fail("launch: cannot find a free port: ", std::strerror(errno));
  }
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

int launch_omp_num_threads(int threads, const char* inherited_omp, int cpus, int nproc_per_node) {
  if (threads > 0) return threads;
  if (inherited_omp != nullptr && *inherited_omp != '\0') return 0;
  return std::max(1, cpus / std::max(1, nproc_per_node));
}

int launch_local(const LaunchOptions& o) {
  if (o.nproc_per_node < 1) fail("launch: nproc-per-node must be >= 1");
  if (o.nnodes < 1 || o.node_rank < 0 || o.node_rank >= o.nnodes) fail("launch: bad nnodes/node-rank");
  if (o.argv.empty()) fail("launch: no command to run");
  int port = o.master_port;
  if (port == 0) {
    if (o.nnodes > 1) fail("launch: --master-port is required with several nodes");
    port = find_free_port();
  }
  const int world = o.nnodes * o.nproc_per_node;

  // Environment blocks are built before fork(): between fork and exec only
  // async-signal-safe calls are allowed.
  std::vector<std::string> base;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string k = kv.substr(0, kv.find('='));
    if (k == "RANK" || k == "LOCAL_RANK" || k == "WORLD_SIZE" || k == "LOCAL_WORLD_SIZE" ||
        k == "GROUP_RANK" || k == "GROUP_WORLD_SIZE" || k == "MASTER_ADDR" || k == "MASTER_PORT" ||
        k == "TORCHELASTIC_USE_AGENT_STORE" || k == "TORCHELASTIC_RESTART_COUNT" ||
        (o.omp_num_threads > 0 && k == "OMP_NUM_THREADS"))
      continue;
    base.push_back(kv);
  }
  std::vector<std::vector<std::string>> envs(o.nproc_per_node, base);
  for (int lr = 0; lr < o.nproc_per_node; ++lr) {
    auto& env = envs[lr];
    env.push_back("RANK=" + std::to_string(o.node_rank * o.nproc_per_node + lr));
    env.push_back("LOCAL_RANK=" + std::to_string(lr));
    env.push_back("WORLD_SIZE=" + std::to_string(world));
    env.push_back("LOCAL_WORLD_SIZE=" + std::to_string(o.nproc_per_node));
    env.push_back("GROUP_RANK=" + std::to_string(o.node_rank));
    env.push_back("GROUP_WORLD_SIZE=" + std::to_string(o.nnodes));
    if (o.omp_num_threads > 0) env.push_back("OMP_NUM_THREADS=" + std::to_string(o.omp_num_threads));
    env.push_back("MASTER_ADDR=" + o.master_addr);
    env.push_back("MASTER_PORT=" + std::to_string(port));
  }
  std::vector<char*> argv;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::vector<char*>> envp(o.nproc_per_node);
  for (int lr = 0; lr < o.nproc_per_node; ++lr) {
    for (auto& kv : envs[lr]) envp[lr].push_back(const_cast<char*>(kv.c_str()));
    envp[lr].push_back(nullptr);
  }

  log_info("launch: ", o.nproc_per_node, " processes on node ", o.node_rank, "/", o.nnodes,
           ", world size ", world, ", master ", o.master_addr, ":", port,
           o.omp_num_threads > 0 ? ", OMP_NUM_THREADS=" + std::to_string(o.omp_num_threads) + " each"
                                 : std::string(", OMP_NUM_THREADS inherited"));
  g_signal = 0;
  struct sigaction sa {}, old_int{}, old_term{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);

  std::vector<pid_t> pids(o.nproc_per_node, -1);
  std::vector<bool> alive(o.nproc_per_node, false);
  int result = 0;
  for (int lr = 0; lr < o.nproc_per_node; ++lr) {
    pid_t pid = ::fork();
    if (pid < 0) {
      result = 1;
      log_error("launch: fork failed: ", std::strerror(errno));
      break;
    }
    if (pid == 0) {
      ::execve(argv[0], argv.data(), envp[lr].data());
      _exit(127);  // exec failed
    }
    pids[lr] = pid;
    alive[lr] = true;
  }

  const double start = now_s();
  while (result == 0) {
    bool any = false;
    for (int i = 0; i < o.nproc_per_node; ++i) {
      if (!alive[i]) continue;
      int st = 0;
      pid_t r = ::waitpid(pids[i], &st, WNOHANG);
      if (r == pids[i]) {
        alive[i] = false;
        int code = exit_code(st);
        if (code != 0) {
          log_error("launch: local rank ", i, " (pid ", pids[i], ") exited with status ", code,
                    "; stopping the others");
          result = code;
        }
      } else {
        any = true;
      }
    }
    if (!any || result != 0) break;
    if (g_signal != 0) {
      log_warning("launch: received signal ", g_signal.load(), ", stopping the workers");
      result = 128 + g_signal;
      break;
    }
    if (o.timeout_s > 0 && now_s() - start > o.timeout_s) {
      log_error("launch: timeout after ", o.timeout_s, " s; stopping the workers");
      result = 124;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop_all(pids, alive, SIGTERM, o.grace_s);
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  return result;
}

}  // namespace instseg
