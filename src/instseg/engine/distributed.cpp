#include "instseg/engine/distributed.h"

#include "instseg/core/check.h"
#include "instseg/core/compat.h"
#include "instseg/core/log.h"
#include "instseg/engine/dist_hooks.h"

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
// Gloo where its headers exist (engine/CMakeLists.txt: pip wheels lack them).
#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#define INSTSEG_HAVE_GLOO 1
#else
#define INSTSEG_HAVE_GLOO 0
#endif
#if defined(INSTSEG_WITH_CUDA) && defined(USE_C10D_NCCL)
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#define INSTSEG_HAVE_NCCL 1
#else
#define INSTSEG_HAVE_NCCL 0
#endif

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>

namespace instseg {

// ProcessGroupGloo/NCCL's base: c10d::Backend in 2.x, ProcessGroup in 1.13.
using PgBase = C10dBackend;

namespace {

int env_int(const char* name, int fallback, bool* present = nullptr) {
  const char* v = std::getenv(name);
  if (present) *present = v != nullptr && *v != '\0';
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < 0 || x > (1 << 30)) fail("distributed: environment variable ", name, "='", v, "' is not a non-negative integer");
  return static_cast<int>(x);
}

struct State {
  DistEnv env;
  std::string backend;
  c10::Device device{c10::kCPU};
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<PgBase> pg;
};

std::unique_ptr<State>& state() {
  static std::unique_ptr<State> s;
  return s;
}

PgBase& pg() {
  INSTSEG_CHECK(state() != nullptr, "distributed: process group not initialised");
  return *state()->pg;
}

void wait(const c10::intrusive_ptr<c10d::Work>& work) { work->wait(); }

void hook_all_reduce_sum(at::Tensor& t) { dist::all_reduce_sum(t); }

bool is_loopback(const std::string& addr) {
  return addr == "127.0.0.1" || addr == "localhost" || addr == "::1" || addr.rfind("127.", 0) == 0;
}

}  // namespace

c10::intrusive_ptr<c10d::TCPStore> dist::make_tcp_store(const std::string& host,
                                                       c10d::TCPStoreOptions options) {
  try {
    return c10::make_intrusive<c10d::TCPStore>(host, options);
  } catch (const c10::Error& e) {
    // "use_libuv was requested but PyTorch was build without libuv support"
    if (std::string(e.what()).find("libuv") == std::string::npos || !tcpstore_use_classic_backend(options))
      throw;
  }
  return c10::make_intrusive<c10d::TCPStore>(host, options);
}

DistEnv dist_env_from_environment() {
  DistEnv e;
  bool has_rank = false, has_world = false;
  e.rank = env_int("RANK", 0, &has_rank);
  e.world_size = env_int("WORLD_SIZE", 1, &has_world);
  e.local_rank = env_int("LOCAL_RANK", e.rank);
  e.local_world_size = env_int("LOCAL_WORLD_SIZE", e.world_size);
  e.master_port = env_int("MASTER_PORT", 29500);
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) e.master_addr = a;
  e.from_env = has_rank && has_world;
  // torch compares with the string "True" (torchelastic_use_agent_store()).
  if (const char* a = std::getenv("TORCHELASTIC_USE_AGENT_STORE"); a && std::string(a) == "True") {
    bool has_count = false;
    e.use_agent_store = true;
    e.restart_count = env_int("TORCHELASTIC_RESTART_COUNT", 0, &has_count);
    if (!has_count)
      fail("distributed: TORCHELASTIC_USE_AGENT_STORE=True but TORCHELASTIC_RESTART_COUNT is not set");
  }
  if (e.world_size < 1) fail("distributed: WORLD_SIZE must be >= 1");
  if (e.rank >= e.world_size)
    fail("distributed: RANK=", e.rank, " is not below WORLD_SIZE=", e.world_size);
  if (e.local_rank >= e.local_world_size)
    fail("distributed: LOCAL_RANK=", e.local_rank, " is not below LOCAL_WORLD_SIZE=", e.local_world_size);
  if (e.master_port < 1 || e.master_port > 65535) fail("distributed: MASTER_PORT out of range");
  return e;
}

namespace dist {

void init(const DistEnv& env, const std::string& backend_name,
          std::chrono::milliseconds timeout) {
  INSTSEG_CHECK(state() == nullptr, "distributed: already initialised");
  if (env.world_size <= 1 && !env.always_init) return;
  auto s = std::make_unique<State>();
  s->env = env;
  std::string backend = backend_name;
  if (backend == "auto") {
#if INSTSEG_HAVE_NCCL
    backend = c10::cuda::device_count() > 0 ? "nccl" : "gloo";
#else
    backend = "gloo";
#endif
  }
  if (backend != "gloo" && backend != "nccl") fail("distributed: unknown backend '", backend, "'");

  // Rendezvous store, as torch.distributed's env:// (_create_c10d_store):
  // under torchrun's agent every rank is a client of the agent's store and
  // keys live under "/worker/attempt_<restart count>" (so a restarted group
  // never reads a previous attempt's keys); otherwise rank 0 hosts it. Clients
  // with numWorkers + waitWorkers add themselves to the store's "init/" count
  // as Python's TCPStore(..., world_size, False) does; only a server waits.
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(env.master_port);
  so.isServer = !env.use_agent_store && env.rank == 0;
  so.numWorkers = static_cast<size_t>(env.world_size);
  so.waitWorkers = true;
  so.timeout = timeout;
  auto tcp = make_tcp_store(env.master_addr, so);
  std::string store_desc = env.use_agent_store ? "torchrun agent's" : "rank 0's";
  if (env.use_agent_store) {
    const std::string prefix = "/worker/attempt_" + std::to_string(env.restart_count);
    s->store = c10::make_intrusive<c10d::PrefixStore>(prefix, tcp);
    store_desc += " (prefix " + prefix + ")";
  } else {
    s->store = tcp;
  }

  if (backend == "gloo") {
#if INSTSEG_HAVE_GLOO
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (is_loopback(env.master_addr))
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    opts->threads = 2;
    s->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(s->store, env.rank, env.world_size, opts);
    s->device = c10::Device(c10::kCPU);
#else
    fail("distributed: this build has no Gloo backend (LibTorch without the gloo headers; use nccl)");
#endif
  } else {
#if INSTSEG_HAVE_NCCL
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(env.local_rank));
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = timeout;
    s->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(s->store, env.rank, env.world_size, opts);
    s->device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
#else
    fail("distributed: this build has no NCCL (configure a CUDA LibTorch with nccl.h)");
#endif
  }
  s->backend = backend;
  state() = std::move(s);
  dist_hooks().world_size = env.world_size;
  dist_hooks().all_reduce_sum = &hook_all_reduce_sum;
  set_log_rank(env.rank);
  log_info("distributed: rank ", env.rank, "/", env.world_size, " (local ", env.local_rank, "/",
           env.local_world_size, "), backend ", backend, ", store ", store_desc, " at ", env.master_addr, ":",
           env.master_port);
  barrier();
}

void shutdown() {
  if (!state()) return;
  barrier();
  dist_hooks() = DistHooks{};
  state().reset();
}

bool is_initialized() { return state() != nullptr; }
int rank() { return state() ? state()->env.rank : 0; }
int local_rank() { return state() ? state()->env.local_rank : 0; }
int world_size() { return state() ? state()->env.world_size : 1; }
bool is_main() { return rank() == 0; }
std::string backend() { return state() ? state()->backend : ""; }
c10::Device comm_device() { return state() ? state()->device : c10::Device(c10::kCPU); }

void barrier() {
  if (!state()) return;
  // A tiny all-reduce rather than ProcessGroup::barrier: NCCL's barrier
  // guesses the device, this one uses ours.
  at::Tensor t = at::zeros({1}, at::TensorOptions().device(comm_device()));
  all_reduce_sum(t);
}

void all_reduce_sum(at::Tensor& t) {
  if (!state()) return;
  const bool direct = t.device() == comm_device() && t.is_contiguous();
  std::vector<at::Tensor> v{direct ? t : t.to(comm_device()).contiguous()};
  wait(pg().allreduce(v));
  if (!direct) t.copy_(v[0]);
}

void broadcast(std::vector<at::Tensor>& tensors, int root) {
  if (!state() || tensors.empty()) return;
  for (auto& t : tensors) {
    const bool direct = t.device() == comm_device() && t.is_contiguous();
    std::vector<at::Tensor> v{direct ? t : t.to(comm_device()).contiguous()};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    wait(pg().broadcast(v, o));
    if (!direct) t.copy_(v[0]);
  }
}

void broadcast_module(torch::nn::Module& module, int root) {
  if (!state()) return;
  at::NoGradGuard ng;
  std::vector<at::Tensor> ts;
  for (auto& p : module.parameters()) ts.push_back(p.detach());
  for (auto& b : module.buffers())
    if (b.defined()) ts.push_back(b);
  broadcast(ts, root);
}

std::vector<double> all_reduce_mean(const std::vector<double>& values) {
  if (!state() || values.empty()) return values;
  at::Tensor t = at::tensor(values, at::TensorOptions().dtype(at::kDouble));
  all_reduce_sum(t);
  t.div_(world_size());
  auto a = t.accessor<double, 1>();
  std::vector<double> out(values.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = a[static_cast<int64_t>(i)];
  return out;
}

void average_gradients(const std::vector<at::Tensor>& params, int64_t bucket_bytes) {
  if (!state()) return;
  at::NoGradGuard ng;
  // Buckets per (device, dtype), filled in parameter order.
  std::map<std::pair<std::string, int>, std::vector<std::vector<at::Tensor>>> buckets;
  std::map<std::pair<std::string, int>, int64_t> fill;
  for (const auto& p : params) {
    if (!p.requires_grad()) continue;
    if (!p.grad().defined()) const_cast<at::Tensor&>(p).mutable_grad() = at::zeros_like(p);
    const at::Tensor& g = p.grad();
    auto key = std::make_pair(g.device().str(), static_cast<int>(g.scalar_type()));
    auto& list = buckets[key];
    const int64_t bytes = g.numel() * static_cast<int64_t>(g.element_size());
    if (list.empty() || fill[key] + bytes > bucket_bytes) {
      list.emplace_back();
      fill[key] = 0;
    }
    list.back().push_back(g);
    fill[key] += bytes;
  }
  const double inv = 1.0 / world_size();
  for (auto& kv : buckets) {
    for (auto& bucket : kv.second) {
      std::vector<at::Tensor> flat_parts;
      flat_parts.reserve(bucket.size());
      for (auto& g : bucket) flat_parts.push_back(g.reshape({-1}));
      at::Tensor flat = at::cat(flat_parts);
      all_reduce_sum(flat);
      flat.mul_(inv);
      int64_t off = 0;
      for (auto& g : bucket) {
        g.copy_(flat.narrow(0, off, g.numel()).view_as(g));
        off += g.numel();
      }
    }
  }
}

std::vector<std::string> gather_bytes(const std::string& local, int root) {
  if (!state()) return {local};
  const int w = world_size();
  const auto dev = comm_device();
  // Sizes first (all-gather), then payloads padded to the largest.
  std::vector<at::Tensor> in{at::full({1}, static_cast<int64_t>(local.size()),
                                      at::TensorOptions().dtype(at::kLong).device(dev))};
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < w; ++r) out[0].push_back(at::zeros({1}, in[0].options()));
  wait(pg().allgather(out, in));
  std::vector<int64_t> sizes(w);
  int64_t max_size = 1;
  for (int r = 0; r < w; ++r) {
    sizes[r] = out[0][r].item<int64_t>();
    max_size = std::max(max_size, sizes[r]);
  }
  at::Tensor buf = at::zeros({max_size}, at::TensorOptions().dtype(at::kByte));
  if (!local.empty()) std::memcpy(buf.data_ptr(), local.data(), local.size());
  std::vector<at::Tensor> pin{buf.to(dev)};
  std::vector<std::vector<at::Tensor>> pout(1);
  for (int r = 0; r < w; ++r) pout[0].push_back(at::zeros({max_size}, pin[0].options()));
  wait(pg().allgather(pout, pin));
  if (rank() != root) return {};
  std::vector<std::string> res(w);
  for (int r = 0; r < w; ++r) {
    at::Tensor c = pout[0][r].cpu().contiguous();
    res[r].assign(static_cast<const char*>(c.data_ptr()), static_cast<size_t>(sizes[r]));
  }
  return res;
}

}  // namespace dist
}  // namespace instseg
