#include "instseg/config/layer_cfg.h"

#include "instseg/core/log.h"

namespace instseg {
namespace {

bool is_pretrained(const ConfigNode& v) {
  if (!v.is_object()) return false;
  auto it = v.find("type");
  return it != v.end() && it->is_string() && it->get<std::string>() == "Pretrained";
}

}  // namespace

NormCfg norm_cfg_from(ConfigReader& r, const std::string& key, const NormCfg& fallback) {
  if (!r.has(key)) return fallback;
  NormCfg n;
  auto c = r.child_optional(key);
  if (!c) return n;  // None: no norm layer
  const std::string t = c->expect_type({"BN", "BN2d", "SyncBN", "GN"});
  n.type = t == "BN2d" ? "BN" : t;
  n.requires_grad = c->get<bool>("requires_grad", true);
  if (n.type == "GN") {
    n.num_groups = c->get<int64_t>("num_groups");
    if (n.num_groups < 1) c->fail_key("num_groups", "must be >= 1, got ", n.num_groups);
  }
  return n;
}

std::string act_cfg_from(ConfigReader& r, const std::string& key, const std::string& fallback) {
  if (!r.has(key)) return fallback;
  auto c = r.child_optional(key);
  if (!c) return "none";
  c->expect_type({"ReLU"});
  c->get<bool>("inplace", true);  // memory only
  return "relu";
}

void read_init_cfg(ConfigReader& r, const std::string& key) {
  const ConfigNode* init = r.find(key);
  if (!init || init->is_null()) return;
  const ConfigNode* found = nullptr;
  if (is_pretrained(*init)) found = init;
  if (init->is_array())
    for (const auto& v : *init)
      if (is_pretrained(v)) found = &v;
  if (!found) return;
  std::string ckpt = "?";
  auto it = found->find("checkpoint");
  if (it != found->end() && it->is_string()) ckpt = it->get<std::string>();
  log_info("config: ", r.key_path(key), ": Pretrained weights ('", ckpt,
           "') are not downloaded or loaded by instseg; weights come from its own initialisation "
           "or from a checkpoint you load");
}

}  // namespace instseg
