#include "instseg/checkpoint/load_weights.h"

#include "instseg/core/check.h"
#include "instseg/core/log.h"

#include <utility>

namespace instseg {

DatasetMeta read_dataset_meta(const PyValue& root) {
  DatasetMeta dm;
  const PyValue* meta = root.is_dict() ? root.get("meta") : nullptr;
  const PyValue* d = meta && meta->is_dict() ? meta->get("dataset_meta") : nullptr;
  if (!d || !d->is_dict()) return dm;
  auto is_seq = [](const PyValue* v) { return v && (v->is_list() || v->is_tuple()); };
  if (const PyValue* classes = d->get("classes"); is_seq(classes)) {
    for (const PyValue& c : classes->items())
      if (c.is_str()) dm.classes.push_back(c.as_str());
  }
  if (const PyValue* palette = d->get("palette"); is_seq(palette)) {
    for (const PyValue& c : palette->items()) {
      if (!is_seq(&c) || c.items().size() != 3) continue;
      std::array<uint8_t, 3> rgb{};
      bool ok = true;
      for (size_t k = 0; k < 3; ++k) {
        const PyValue& v = c.items()[k];
        if (!v.is_int() || v.is_big_int() || v.as_int() < 0 || v.as_int() > 255) ok = false;
        else rgb[k] = static_cast<uint8_t>(v.as_int());
      }
      if (ok) dm.palette.push_back(rgb);
    }
  }
  return dm;
}

LoadedWeights load_weights(torch::nn::Module& model, const PthFile& file, const LoadWeightsOptions& o) {
  LoadedWeights out;
  out.checkpoint = file.path;
  out.format = file.format;
  std::string where;
  const PyValue& weights = find_weights(file.root, &where);
  if (!weights.is_dict()) fail(file.path, ": no weights: expected a dict of tensors, got ", weights.kind_name());
  TensorDict sd = tensor_entries(weights, /*strip_module=*/true);
  const std::string target = o.target.empty() ? std::string("the model") : o.target;
  if (!o.prefix.empty() && sd.size() > 0) {
    const std::string prefix = o.prefix.back() == '.' ? o.prefix : o.prefix + ".";
    TensorDict selected;
    for (const auto& [key, value] : sd)
      if (key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0)
        selected.set(key.substr(prefix.size()), value);
    if (selected.empty())
      fail(file.path, ": no key starts with the prefix '", prefix, "' (", sd.size(), " keys, e.g. '",
           sd.items().front().first, "'): not a checkpoint holding ", target, "?");
    sd = std::move(selected);
  }
  if (sd.size() == 0)
    fail(file.path, ": no tensors in ", where.empty() ? std::string("the top-level dict") : "'" + where + "'",
         ": not a checkpoint of ", target, "?");
  if (!o.allow_nonfinite) check_finite_weights(sd, file.path);
  // Strict: nothing is copied unless every key fits.
  if (o.strict) {
    const LoadReport check = compare_state_dict(model, sd);
    if (!check.ok())
      fail(file.path, ": does not fit ", target, ": ", check.summary(10),
           " (a checkpoint of another model, or of another config?)");
  }
  out.report = load_state_dict_into(model, sd, /*strict=*/false);
  out.dataset_meta = read_dataset_meta(file.root);
  if (o.log) {
    log_info("load_weights: ", out.report.loaded, " tensors from ", file.path, " into ", target);
    if (!out.report.ok())
      log_warning("load_weights: ", file.path, " does not fit ", target, " exactly (loaded what matches): ",
                  out.report.summary(10));
  }
  return out;
}

LoadedWeights load_weights(torch::nn::Module& model, const std::string& checkpoint, const LoadWeightsOptions& o) {
  return load_weights(model, read_pth(checkpoint), o);
}

}  // namespace instseg
