#include "instseg/config/config_reader.h"

#include <algorithm>
#include <set>

namespace instseg {

namespace config_detail {

std::string describe(const ConfigNode& v) {
  if (v.is_null()) return "null";
  if (v.is_object()) return "a dict";
  if (v.is_array()) return "a list";
  if (v.is_boolean()) return v.get<bool>() ? "bool true" : "bool false";
  if (v.is_number_integer()) return "integer " + v.dump();
  if (v.is_number()) return "float " + v.dump();
  std::string s = v.get<std::string>();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return "string '" + s + "'";
}

void type_error(const std::string& path, const char* expected, const ConfigNode& got) {
  fail("config: ", path, ": expected ", expected, ", got ", describe(got));
}

}  // namespace config_detail

struct ConfigReader::State {
  const ConfigNode* node = nullptr;
  std::string path;
  std::vector<std::string> known;  // registration order, unique
  std::set<std::string> known_set;
  std::vector<std::shared_ptr<State>> children;

  void add(const std::string& key) {
    if (known_set.insert(key).second) known.push_back(key);
  }
};

ConfigReader::ConfigReader(std::shared_ptr<State> state) : state_(std::move(state)) {}

ConfigReader::ConfigReader(const ConfigNode& node, std::string path) : state_(std::make_shared<State>()) {
  state_->node = &node;
  state_->path = std::move(path);
  if (!node.is_object())
    fail("config: ", state_->path.empty() ? "<root>" : state_->path, ": expected a dict, got ",
         config_detail::describe(node));
}

const std::string& ConfigReader::path() const { return state_->path; }

std::string ConfigReader::key_path(const std::string& key) const {
  return state_->path.empty() ? key : state_->path + "." + key;
}

const ConfigNode& ConfigReader::node() const { return *state_->node; }

std::vector<std::string> ConfigReader::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : state_->node->items()) out.push_back(k);
  return out;
}

const ConfigNode* ConfigReader::lookup(const std::string& key) {
  state_->add(key);
  auto it = state_->node->find(key);
  return it == state_->node->end() ? nullptr : &*it;
}

const ConfigNode& ConfigReader::require(const std::string& key) {
  const ConfigNode* v = lookup(key);
  if (v) return *v;
  // A present key that nobody asked for and is one typo away is why the
  // required one is missing: report it first, as finish() would.
  std::string typo;
  for (const auto& [k, val] : state_->node->items()) {
    if (state_->known_set.count(k) || closest_key(k, {key}) != key) continue;
    typo += "config: unknown key '" + key_path(k) + "' (did you mean '" + key + "'?)\n";
  }
  fail(typo, "config: ", path().empty() ? "<root>" : path(), ": missing required key '", key, "'");
}

bool ConfigReader::has(const std::string& key) { return lookup(key) != nullptr; }

bool ConfigReader::has_value(const std::string& key) {
  const ConfigNode* v = lookup(key);
  return v && !v->is_null();
}

std::string ConfigReader::type() { return get<std::string>("type"); }

std::string ConfigReader::expect_type(std::initializer_list<const char*> supported) {
  std::string t = type();
  std::string list;
  for (const char* s : supported) {
    if (t == s) return t;
    list += list.empty() ? s : std::string(", ") + s;
  }
  fail_key("type", "unsupported type '", t, "' (supported: ", list, ")");
}

ConfigReader ConfigReader::child(const std::string& key) {
  const ConfigNode& v = require(key);
  if (!v.is_object()) config_detail::type_error(key_path(key), "a dict", v);
  auto st = std::make_shared<State>();
  st->node = &v;
  st->path = key_path(key);
  state_->children.push_back(st);
  return ConfigReader(st);
}

optional<ConfigReader> ConfigReader::child_optional(const std::string& key) {
  const ConfigNode* v = lookup(key);
  if (!v || v->is_null()) return nullopt;
  return child(key);
}

std::vector<ConfigReader> ConfigReader::children(const std::string& key) {
  const ConfigNode& v = require(key);
  if (!v.is_array()) config_detail::type_error(key_path(key), "a list of dicts", v);
  std::vector<ConfigReader> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = key_path(key) + "." + std::to_string(i);
    if (!v[i].is_object()) config_detail::type_error(p, "a dict", v[i]);
    auto st = std::make_shared<State>();
    st->node = &v[i];
    st->path = p;
    state_->children.push_back(st);
    out.push_back(ConfigReader(st));
  }
  return out;
}

void ConfigReader::ignore(std::initializer_list<const char*> keys) {
  for (const char* k : keys) state_->add(k);
}

void ConfigReader::ignore(const std::vector<std::string>& keys) {
  for (const auto& k : keys) state_->add(k);
}

void ConfigReader::finish() {
  std::vector<std::string> lines;
  // Depth-first over this reader and its children (children of children too).
  std::vector<const State*> stack{state_.get()};
  while (!stack.empty()) {
    const State* st = stack.back();
    stack.pop_back();
    for (const auto& [k, v] : st->node->items()) {
      if (st->known_set.count(k)) continue;
      const std::string full = st->path.empty() ? k : st->path + "." + k;
      std::string line = "config: unknown key '" + full + "'";
      std::string near = closest_key(k, st->known);
      if (!near.empty()) {
        line += " (did you mean '" + near + "'?)";
      } else if (!st->known.empty()) {
        std::string list;
        for (const auto& kk : st->known) list += (list.empty() ? "" : ", ") + kk;
        line += " (known keys: " + list + ")";
      }
      lines.push_back(line);
    }
    for (auto it = st->children.rbegin(); it != st->children.rend(); ++it) stack.push_back(it->get());
  }
  if (lines.empty()) return;
  std::string msg;
  for (const auto& l : lines) msg += (msg.empty() ? "" : "\n") + l;
  throw Error(msg);
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closest_key(const std::string& key, const std::vector<std::string>& candidates) {
  // A likely typo: few edits for the length ("depht" -> "depth",
  // "frozen_stage" -> "frozen_stages"); failing that, a name that the key is
  // a prefix of, or that is a prefix of the key ("upsample" -> "upsample_cfg").
  std::string best;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (const auto& c : candidates) {
    size_t d = edit_distance(key, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  if (!best.empty() && best_d * 3 <= std::max(key.size(), best.size()) + 3) return best;
  for (const auto& c : candidates) {
    if (std::min(key.size(), c.size()) < 3) continue;
    const bool prefix = c.size() >= key.size() ? c.compare(0, key.size(), key) == 0
                                               : key.compare(0, c.size(), c) == 0;
    if (prefix) return c;
  }
  return "";
}

}  // namespace instseg
