#include "instseg/backbone/pretrained.h"

#include "instseg/checkpoint/model_zoo.h"
#include "instseg/core/check.h"
#include "instseg/core/log.h"

namespace instseg {
namespace {

// "a, b, c and 4 more"
std::string first_names(const std::vector<std::string>& names, size_t n = 6) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < n; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > n) out += str_cat(" and ", names.size() - n, " more");
  return out;
}

}  // namespace

LoadedWeights load_pretrained_backbone(BackboneImpl& backbone, const BackboneSpec& spec) {
  const PretrainedInit& init = spec.pretrained;
  INSTSEG_CHECK(init.enabled(), "load_pretrained_backbone: the backbone spec has no Pretrained init_cfg");
  const std::string what = str_cat("the ", backbone_description(spec), " backbone");
  const std::string path = locate_checkpoint(init.checkpoint);
  LoadWeightsOptions o;
  o.strict = false;  // mmengine's PretrainedInit: load_checkpoint(strict=False)
  o.prefix = init.prefix;
  o.target = what;
  o.log = false;  // the report below says it in init_cfg's terms
  LoadedWeights w = load_weights(backbone, path, o);
  const LoadReport& r = w.report;
  if (r.loaded == 0)
    fail("init_cfg: ", init.checkpoint, " (", path, "): no tensor fits ", what, ": ", r.summary(6),
         " (a checkpoint of another architecture", init.prefix.empty() ? "; a detector checkpoint needs "
                                                                         "prefix='backbone.'"
                                                                       : "",
         ")");
  const size_t total = r.loaded + r.missing.size() + r.mismatched.size();
  log_info("init_cfg: ", what, " from ", init.checkpoint,
           init.prefix.empty() ? std::string() : str_cat(" (prefix '", init.prefix, "')"),
           path == init.checkpoint ? std::string() : str_cat(" = ", path), ": loaded ", r.loaded, " of ", total,
           " tensors");
  if (!r.unexpected.empty())
    log_info("init_cfg: unused in the checkpoint (", r.unexpected.size(), "): ", first_names(r.unexpected));
  if (!r.missing.empty() || !r.mismatched.empty()) {
    std::string msg;
    if (!r.missing.empty())
      msg += str_cat("not in the checkpoint (", r.missing.size(), "): ", first_names(r.missing));
    if (!r.mismatched.empty())
      msg += str_cat(msg.empty() ? "" : "; ", "other shapes (", r.mismatched.size(), "): ",
                     first_names(r.mismatched, 3));
    log_warning("init_cfg: ", what, " keeps its random initialisation for ", msg);
  }
  return w;
}

}  // namespace instseg
