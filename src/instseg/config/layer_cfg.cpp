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

ConvCfg conv_cfg_from(ConfigReader& r, const std::string& key, const ConvCfg& fallback,
                      bool allow_fallback_on_stride) {
  if (!r.has(key)) return fallback;
  ConvCfg cfg;
  auto c = r.child_optional(key);
  if (!c) return cfg;  // None: nn.Conv2d
  const std::string t = c->expect_type({"Conv2d", "Conv", "DCNv2", "DCN"});
  cfg.type = t == "Conv" ? "Conv2d" : t;
  if (cfg.deformable()) {
    // mmcv's deprecated_api_warning renames deformable_groups and rejects both.
    if (c->has("deformable_groups") && c->has("deform_groups"))
      c->fail_key("deformable_groups", "give deform_groups or the deprecated deformable_groups, "
                                       "not both");
    const std::string dg_key = c->has("deformable_groups") ? "deformable_groups" : "deform_groups";
    cfg.deform_groups = c->get<int64_t>(dg_key, 1);
    if (cfg.deform_groups < 1) c->fail_key(dg_key, "must be >= 1, got ", cfg.deform_groups);
    if (cfg.type == "DCN") c->get<int64_t>("im2col_step", 32);
  }
  if (allow_fallback_on_stride) cfg.fallback_on_stride = c->get<bool>("fallback_on_stride", false);
  return cfg;
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
           "') are loaded on the backbone only; this part starts from instseg's own initialisation "
           "or from load_from");
}

PretrainedInit pretrained_init_from(ConfigReader& r) {
  PretrainedInit out;
  const optional<std::string> deprecated = r.get_optional<std::string>("pretrained");
  const ConfigNode* init = r.find("init_cfg");
  const bool has_init = init && !init->is_null() && !(init->is_array() && init->empty());
  if (deprecated && has_init)
    r.fail_key("pretrained", "init_cfg and pretrained cannot be specified at the same time (mmdet)");
  if (deprecated) {
    if (deprecated->empty()) r.fail_key("pretrained", "must not be an empty string");
    log_warning("config: ", r.key_path("pretrained"),
                " is deprecated in mmdet, use init_cfg=dict(type='Pretrained', checkpoint=...)");
    out.checkpoint = *deprecated;
    return out;
  }
  if (!has_init) return out;
  if (!init->is_object() && !init->is_array())
    config_detail::type_error(r.key_path("init_cfg"), "a dict or a list of dicts", *init);
  auto read_one = [&](const ConfigNode& node, const std::string& path) {
    if (!is_pretrained(node)) return;
    if (out.enabled()) fail("config: ", path, ": a second Pretrained init_cfg (instseg loads one checkpoint)");
    ConfigReader p(node, path);
    p.type();
    out.checkpoint = p.get<std::string>("checkpoint");
    if (out.checkpoint.empty()) p.fail_key("checkpoint", "must not be empty");
    out.prefix = p.get_optional<std::string>("prefix").value_or("");
    p.ignore({"map_location"});  // weights are read on the CPU and copied into the model
    p.finish();
  };
  if (init->is_object()) {
    read_one(*init, r.key_path("init_cfg"));
  } else {
    for (size_t i = 0; i < init->size(); ++i) read_one((*init)[i], r.key_path("init_cfg") + "." + std::to_string(i));
  }
  return out;
}

}  // namespace instseg
