#include "instseg/checkpoint/pth_reader.h"

#include "instseg/core/check.h"

#include <ATen/ATen.h>

#include <map>
#include <unordered_set>
#include <vector>

namespace instseg {
namespace {

// Gives every tensor and storage value under `root` its at::Tensor over `storages`
// (each node once: the tree shares nodes as the pickle's memo did).
void materialise(const PyValue& root, const std::map<std::string, c10::Storage>& storages, const std::string& path) {
  std::unordered_set<const void*> seen;
  std::vector<const PyValue*> todo{&root};
  auto storage_of = [&](const std::string& key) -> const c10::Storage& {
    auto it = storages.find(key);
    if (it == storages.end()) fail(path, ": a tensor of storage '", key, "', which the file does not have");
    return it->second;
  };
  while (!todo.empty()) {
    const PyValue* v = todo.back();
    todo.pop_back();
    if (!seen.insert(v->id()).second) continue;
    if (v->is_tensor()) {
      const TensorDesc& d = v->tensor_desc();
      v->set_tensor_data(at::empty({0}, at::TensorOptions().dtype(scalar_type(d.dtype)))
                             .set_(storage_of(d.storage_key), d.offset, d.sizes, d.strides));
    } else if (v->is_storage()) {
      const StorageRef& r = v->storage_ref();
      v->set_tensor_data(
          at::empty({0}, at::TensorOptions().dtype(scalar_type(r.dtype))).set_(storage_of(r.key), r.offset, {r.numel}, {1}));
    }
    v->for_each_child([&](const PyValue& c) { todo.push_back(&c); });
  }
}

}  // namespace

PthFile read_pth(const std::string& path) {
  PthArchive archive(path);
  try {
    std::map<std::string, c10::Storage> storages;
    for (const auto& kv : archive.storages()) {
      at::Tensor bytes = at::empty({static_cast<int64_t>(kv.second.nbytes)}, at::TensorOptions().dtype(at::kByte));
      archive.read_storage(kv.first, bytes.data_ptr());
      storages.emplace(kv.first, bytes.storage());
    }
    materialise(archive.file().root, storages, path);
  } catch (const Error&) {
    throw;  // they name the file
  } catch (const std::exception& e) {
    throw Error(path + ": " + error_message(e));
  }
  return archive.file();
}

TensorDict tensor_entries(const PyValue& weights, bool strip_module) {
  TensorDict out;
  if (!weights.is_dict()) return out;
  for (const auto& kv : weights.dict_items()) {
    if (!kv.first.is_str() || !kv.second.is_tensor()) continue;
    std::string key = kv.first.as_str();
    if (strip_module && key.rfind("module.", 0) == 0) key = key.substr(7);
    out.set(key, as_tensor(kv.second));
  }
  return out;
}

TensorDict load_state_dict(const std::string& path) {
  PthFile f = read_pth(path);
  TensorDict d = tensor_entries(find_weights(f.root), true);
  if (d.empty()) fail(path, ": no tensors found under 'state_dict', 'model' or the top level");
  return d;
}

}  // namespace instseg
