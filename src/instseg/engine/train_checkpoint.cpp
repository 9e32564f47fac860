#include "instseg/engine/train_checkpoint.h"

#include "instseg/checkpoint/load_weights.h"
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/checkpoint/pth_writer.h"
#include "instseg/checkpoint/state_dict.h"
#include "instseg/core/atomic_file.h"
#include "instseg/core/check.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#ifdef INSTSEG_WITH_CUDA
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <type_traits>

namespace fs = std::filesystem;

namespace instseg {

namespace {

// The key LibTorch's optimizer state map uses for a parameter: the TensorImpl
// address, as a string in 1.13 and as the pointer itself where the map is
// keyed by void* (newer releases).
template <typename Map>
typename Map::key_type state_key(const Map&, const at::Tensor& p) {
  using Key = typename Map::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream os;
    os << static_cast<const void*>(p.unsafeGetTensorImpl());
    return os.str();
  } else {
    return reinterpret_cast<Key>(p.unsafeGetTensorImpl());
  }
}

PyValue f(double v) { return PyValue::from_float(v); }
PyValue i(int64_t v) { return PyValue::from_int(v); }
PyValue s(const std::string& v) { return PyValue::str(v); }

// key as const char*: GCC 14 flags a reference returned from a call that took a
// std::string temporary as a possibly dangling one (-Wdangling-reference).
const PyValue& need(const PyValue& d, const char* key, const std::string& where) {
  const PyValue* v = d.is_dict() ? d.get(key) : nullptr;
  if (!v) fail(where, ": missing '", key, "'");
  return *v;
}

at::Tensor opt_tensor(const PyValue* v, const at::Tensor& like) {
  if (!v || v->is_none()) return at::Tensor();
  return as_tensor(*v).to(like.device(), like.scalar_type()).clone();
}

}  // namespace

PyValue optimizer_state_value(const BuiltOptimizer& b) {
  const auto& opt = *b.optimizer;
  PyValue state = PyValue::dict();
  PyValue groups = PyValue::list();
  int64_t idx = 0;
  const bool sgd = b.type == "SGD";
  for (size_t gi = 0; gi < opt.param_groups().size(); ++gi) {
    const auto& g = opt.param_groups()[gi];
    PyValue pg = PyValue::dict();
    PyValue ids = PyValue::list();
    for (const auto& p : g.params()) {
      auto it = opt.state().find(state_key(opt.state(), p));
      if (it != opt.state().end()) {
        PyValue st = PyValue::dict();
        if (sgd) {
          const auto& ps = static_cast<const torch::optim::SGDParamState&>(*it->second);
          if (ps.momentum_buffer().defined())
            st.dict_set(s("momentum_buffer"), tensor_value(ps.momentum_buffer().cpu()));
        } else {
          const auto& ps = static_cast<const torch::optim::AdamWParamState&>(*it->second);
          // Python 1.13+ keeps `step` as a float tensor.
          st.dict_set(s("step"), tensor_value(at::scalar_tensor(static_cast<double>(ps.step()), at::kFloat)));
          st.dict_set(s("exp_avg"), tensor_value(ps.exp_avg().cpu()));
          st.dict_set(s("exp_avg_sq"), tensor_value(ps.exp_avg_sq().cpu()));
          if (ps.max_exp_avg_sq().defined())
            st.dict_set(s("max_exp_avg_sq"), tensor_value(ps.max_exp_avg_sq().cpu()));
        }
        state.dict_set(i(idx), st);
      }
      ids.append(i(idx));
      ++idx;
    }
    const ParamGroupInfo& info = b.groups.at(gi);
    pg.dict_set(s("lr"), f(g.options().get_lr()));
    pg.dict_set(s("initial_lr"), f(info.base_lr));
    if (sgd) {
      const auto& o = static_cast<const torch::optim::SGDOptions&>(g.options());
      pg.dict_set(s("momentum"), f(o.momentum()));
      pg.dict_set(s("dampening"), f(o.dampening()));
      pg.dict_set(s("weight_decay"), f(o.weight_decay()));
      pg.dict_set(s("nesterov"), PyValue::from_bool(o.nesterov()));
    } else {
      const auto& o = static_cast<const torch::optim::AdamWOptions&>(g.options());
      pg.dict_set(s("betas"), PyValue::tuple({f(std::get<0>(o.betas())), f(std::get<1>(o.betas()))}));
      pg.dict_set(s("eps"), f(o.eps()));
      pg.dict_set(s("weight_decay"), f(o.weight_decay()));
      pg.dict_set(s("amsgrad"), PyValue::from_bool(o.amsgrad()));
    }
    pg.dict_set(s("lr_mult"), f(info.lr_mult));
    pg.dict_set(s("decay_mult"), f(info.decay_mult));
    pg.dict_set(s("params"), ids);
    groups.append(pg);
  }
  PyValue root = PyValue::dict();
  root.dict_set(s("state"), state);
  root.dict_set(s("param_groups"), groups);
  return root;
}

void load_optimizer_state(BuiltOptimizer& b, const PyValue& value) {
  auto& opt = *b.optimizer;
  const std::string where = "checkpoint: optimizer";
  const PyValue& state = need(value, "state", where);
  const PyValue& groups = need(value, "param_groups", where);
  if (!groups.is_list() || groups.size() != opt.param_groups().size())
    fail(where, ": ", groups.size(), " param groups in the file, ", opt.param_groups().size(),
         " in the optimizer (different model or paramwise options?)");
  const bool sgd = b.type == "SGD";
  int64_t idx = 0;
  opt.state().clear();
  for (size_t gi = 0; gi < opt.param_groups().size(); ++gi) {
    auto& g = opt.param_groups()[gi];
    const PyValue& pg = groups.items()[gi];
    const PyValue& ids = need(pg, "params", where);
    if (ids.size() != g.params().size())
      fail(where, ": group ", gi, " has ", ids.size(), " parameters in the file, ", g.params().size(),
           " in the optimizer");
    g.options().set_lr(need(pg, "lr", where).as_float());
    for (size_t k = 0; k < g.params().size(); ++k, ++idx) {
      const at::Tensor& p = g.params()[k];
      const PyValue* st = state.get(ids.items()[k]);
      if (!st) continue;
      auto check_shape = [&](const at::Tensor& t, const char* name) {
        if (t.defined() && t.sizes() != p.sizes())
          fail(where, ": parameter ", idx, " ", name, " shape ", t.sizes(), " vs ", p.sizes());
      };
      std::unique_ptr<torch::optim::OptimizerParamState> ps;
      if (sgd) {
        auto s1 = std::make_unique<torch::optim::SGDParamState>();
        at::Tensor buf = opt_tensor(st->get("momentum_buffer"), p);
        check_shape(buf, "momentum_buffer");
        s1->momentum_buffer(buf);
        ps = std::move(s1);
      } else {
        auto s2 = std::make_unique<torch::optim::AdamWParamState>();
        const PyValue& step = need(*st, "step", where);
        s2->step(step.is_tensor() ? static_cast<int64_t>(as_tensor(step).item<double>()) : step.as_int());
        s2->exp_avg(opt_tensor(st->get("exp_avg"), p));
        s2->exp_avg_sq(opt_tensor(st->get("exp_avg_sq"), p));
        check_shape(s2->exp_avg(), "exp_avg");
        check_shape(s2->exp_avg_sq(), "exp_avg_sq");
        at::Tensor m = opt_tensor(st->get("max_exp_avg_sq"), p);
        if (m.defined()) s2->max_exp_avg_sq(m);
        ps = std::move(s2);
      }
      opt.state()[state_key(opt.state(), p)] = std::move(ps);
    }
  }
}

void save_training_checkpoint(const std::string& path, const torch::nn::Module& model,
                              const BuiltOptimizer& opt, const TrainingState& st,
                              const GradScaler* scaler,
                              const std::vector<std::pair<std::string, PyValue>>& extra_meta) {
  TensorDict weights;
  for (const auto& kv : module_state_dict(model)) weights.set(kv.first, kv.second.detach().cpu());
  PyValue meta = PyValue::dict();
  meta.dict_set(s("epoch"), i(st.epoch));
  meta.dict_set(s("iter"), i(st.iter));
  meta.dict_set(s("batch_in_epoch"), i(st.batch_in_epoch));
  meta.dict_set(s("seed"), i(st.seed));
  meta.dict_set(s("world_size"), i(st.world_size));
  meta.dict_set(s("instseg_version"), s("0.1.0"));
  meta.dict_set(s("time"), f(std::chrono::duration<double>(
                               std::chrono::system_clock::now().time_since_epoch()).count()));
  for (const auto& kv : extra_meta) meta.dict_set(s(kv.first), kv.second);

  PyValue rng = PyValue::dict();
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    rng.dict_set(s("torch_cpu"), tensor_value(gen.get_state()));
  }
#ifdef INSTSEG_WITH_CUDA
  if (c10::cuda::device_count() > 0) {
    auto gen = at::cuda::detail::getDefaultCUDAGenerator(c10::cuda::current_device());
    std::lock_guard<std::mutex> lock(gen.mutex());
    rng.dict_set(s("torch_cuda"), tensor_value(gen.get_state()));
  }
#endif
  PyValue loader = PyValue::dict();
  loader.dict_set(s("epoch"), i(st.epoch));
  loader.dict_set(s("batch_in_epoch"), i(st.batch_in_epoch));

  std::vector<std::pair<std::string, PyValue>> extra;
  extra.emplace_back("optimizer", optimizer_state_value(opt));
  extra.emplace_back("param_schedulers", PyValue::list());
  if (scaler && scaler->enabled()) {
    PyValue sc = PyValue::dict();
    sc.dict_set(s("scale"), f(scaler->get_scale()));
    sc.dict_set(s("_growth_tracker"), i(scaler->growth_tracker()));
    extra.emplace_back("grad_scaler", sc);
  }
  extra.emplace_back("rng", rng);
  extra.emplace_back("loader", loader);
  save_checkpoint(path, meta, weights, extra);
}

TrainingState load_training_checkpoint(const std::string& path, torch::nn::Module& model,
                                       BuiltOptimizer& opt, GradScaler* scaler, bool strict) {
  PthFile file = read_pth(path);
  const PyValue& root = file.root;
  if (!root.is_dict()) fail(path, ": not a checkpoint dict");
  const PyValue& meta = need(root, "meta", path);
  TrainingState st;
  st.epoch = need(meta, "epoch", path + ": meta").as_int();
  st.iter = need(meta, "iter", path + ": meta").as_int();
  if (const PyValue* b = meta.get("batch_in_epoch")) st.batch_in_epoch = b->as_int();
  if (const PyValue* sd = meta.get("seed")) st.seed = sd->as_int();
  if (const PyValue* w = meta.get("world_size")) st.world_size = w->as_int();

  // Strict: an error naming the file before anything is copied; non-finite
  // weights are refused either way (a resumed run would only produce NaN).
  LoadWeightsOptions lo;
  lo.strict = strict;
  lo.target = "the model being trained";
  lo.log = false;
  load_weights(model, file, lo);
  load_optimizer_state(opt, need(root, "optimizer", path));
  if (scaler && scaler->enabled()) {
    if (const PyValue* sc = root.get("grad_scaler"))
      scaler->set_state(need(*sc, "scale", path).as_float(), need(*sc, "_growth_tracker", path).as_int());
  }
  if (const PyValue* rng = root.get("rng")) {
    if (const PyValue* cpu = rng->get("torch_cpu")) {
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(as_tensor(*cpu));
    }
#ifdef INSTSEG_WITH_CUDA
    if (const PyValue* cuda = rng->get("torch_cuda"); cuda && c10::cuda::device_count() > 0) {
      auto gen = at::cuda::detail::getDefaultCUDAGenerator(c10::cuda::current_device());
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(as_tensor(*cuda));
    }
#endif
  }
  return st;
}

void write_last_checkpoint(const std::string& work_dir, const std::string& checkpoint_path) {
  write_file_atomically((fs::path(work_dir) / "last_checkpoint").string(),
                        fs::absolute(checkpoint_path).lexically_normal().string());
}

std::string read_last_checkpoint(const std::string& work_dir) {
  std::ifstream in(fs::path(work_dir) / "last_checkpoint");
  if (!in) return "";
  std::string p;
  std::getline(in, p);
  while (!p.empty() && (p.back() == '\n' || p.back() == '\r' || p.back() == ' ')) p.pop_back();
  if (p.empty()) return "";
  fs::path fp(p);
  if (fp.is_relative()) fp = fs::path(work_dir) / fp;
  return fp.string();
}

std::vector<std::string> prune_checkpoints(const std::string& work_dir, int keep,
                                           const std::string& protect) {
  std::vector<std::string> removed;
  if (keep <= 0 || !fs::is_directory(work_dir)) return removed;
  static const std::regex pat(R"((epoch|iter)_\d+\.pth)");
  std::vector<std::pair<fs::file_time_type, fs::path>> files;
  for (const auto& e : fs::directory_iterator(work_dir)) {
    if (!e.is_regular_file() || !std::regex_match(e.path().filename().string(), pat)) continue;
    files.emplace_back(e.last_write_time(), e.path());
  }
  std::sort(files.begin(), files.end());
  const fs::path keep_path = protect.empty() ? fs::path() : fs::absolute(protect).lexically_normal();
  const size_t n_remove = files.size() > static_cast<size_t>(keep) ? files.size() - keep : 0;
  for (size_t k = 0; k < n_remove; ++k) {
    if (!keep_path.empty() && fs::absolute(files[k].second).lexically_normal() == keep_path) continue;
    std::error_code ec;
    if (fs::remove(files[k].second, ec)) removed.push_back(files[k].second.string());
  }
  return removed;
}

}  // namespace instseg
