#include "instseg/checkpoint/publish.h"

#include "instseg/checkpoint/pth_reader.h"
#include "instseg/checkpoint/pth_writer.h"
#include "instseg/checkpoint/tensor_value.h"
#include "instseg/core/check.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace instseg {

PublishResult publish_checkpoint(const std::string& in, const std::string& out, const PublishOptions& options) {
  if (std::find(options.save_keys.begin(), options.save_keys.end(), "state_dict") == options.save_keys.end())
    fail("publish: save_keys must include 'state_dict' (the weights); got ", options.save_keys.size(), " key(s) without it");
  std::error_code ec;
  if (in == out || std::filesystem::equivalent(in, out, ec))
    fail("publish: the output must differ from the input (", in, ")");
  const PthFile file = read_pth(in);
  if (!file.root.is_dict())
    fail(in, ": the file holds a ", file.root.kind_name(), ", not a checkpoint dict");
  const PyValue* weights = file.root.get("state_dict");
  if (weights == nullptr || !weights->is_dict())
    fail(in, ": no dict 'state_dict' entry: not a training checkpoint (a bare state dict needs no publishing)");

  PublishResult result;
  PyValue root = PyValue::dict();
  for (const auto& [key, value] : file.root.dict_items()) {
    if (!key.is_str()) fail(in, ": a top-level key is a ", key.kind_name(), ", not a str");
    const std::string& name = key.as_str();
    const bool keep = std::find(options.save_keys.begin(), options.save_keys.end(), name) != options.save_keys.end();
    (keep ? result.kept : result.dropped).push_back(name);
    if (!keep) continue;
    if (name != "state_dict" || !options.half) {
      root.dict_set(key, value);
      continue;
    }
    PyValue halved = PyValue::dict();
    for (const auto& kv : weights->dict_items()) {
      if (kv.second.is_tensor() && as_tensor(kv.second).is_floating_point() &&
          as_tensor(kv.second).scalar_type() != at::kHalf) {
        halved.dict_set(kv.first, tensor_value(as_tensor(kv.second).to(at::kHalf).contiguous()));
        ++result.num_halved;
      } else {
        halved.dict_set(kv.first, kv.second);
      }
    }
    root.dict_set(key, halved);
  }
  for (const auto& kv : weights->dict_items())
    if (kv.second.is_tensor()) ++result.num_weights;
  write_pth(out, root);
  return result;
}

}  // namespace instseg
