// An insertion-ordered name -> tensor map: loss maps, `instseg forward`
// intermediates, state dicts. Order matters (log lines, checkpoint key order),
// so this is not a std::map.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace instseg {

class TensorDict {
 public:
  using Item = std::pair<std::string, at::Tensor>;

  // Inserts or replaces (a replaced key keeps its position).
  void set(const std::string& key, const at::Tensor& value) {
    auto it = index_.find(key);
    if (it != index_.end()) {
      items_[it->second].second = value;
    } else {
      index_.emplace(key, items_.size());
      items_.emplace_back(key, value);
    }
  }
  bool contains(const std::string& key) const { return index_.count(key) != 0; }
  // Throws std::out_of_range naming the key when absent.
  const at::Tensor& at(const std::string& key) const {
    auto it = index_.find(key);
    if (it == index_.end()) throw std::out_of_range("TensorDict: no key '" + key + "'");
    return items_[it->second].second;
  }
  const std::vector<Item>& items() const { return items_; }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  std::vector<Item>::const_iterator begin() const { return items_.begin(); }
  std::vector<Item>::const_iterator end() const { return items_.end(); }

 private:
  std::vector<Item> items_;
  std::unordered_map<std::string, size_t> index_;
};

// Named losses of a forward_train call, mmdetection's names ("loss_cls", ...).
// Entries whose name contains "loss" are summed for backward (mmengine's
// parse_losses); others (e.g. "pos_acc") are logged only.
using LossMap = TensorDict;

}  // namespace instseg
