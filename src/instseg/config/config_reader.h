// ConfigReader: typed access to one config dict that tracks which keys the
// builder knows, so a misspelt key is an error instead of a silent default.
//
//   ConfigReader r(cfg["model"]["backbone"], "model.backbone");
//   r.expect_type({"ResNet"});                          // `type` via an explicit switch
//   int depth = r.get<int>("depth");                    // required
//   auto strides = r.get<std::vector<int64_t>>("strides", {1, 2, 2, 2});  // default if absent
//   auto stem = r.get_optional<int64_t>("stem_channels");  // absent or null -> nullopt
//   if (auto norm = r.child_optional("norm_cfg")) { ... norm->get<bool>("requires_grad", true) ... }
//   r.ignore({"init_cfg", "with_cp"});                  // accepted, unused, no message
//   r.finish();   // throws instseg::Error for keys no get()/ignore() registered:
//     "config: unknown key 'model.backbone.frozen_stage' (did you mean 'frozen_stages'?)"
//
// Rules:
// * Every get*/has/child*/ignore/type call REGISTERS the key as known (present
//   or not); finish() reports every present key that is not known, suggesting
//   the closest known key (Levenshtein) or listing the known keys. finish()
//   also checks every reader made by child()/child_optional()/children(), so
//   one finish() on the outermost reader checks the whole subtree.
// * get<T>(key, fallback) uses the fallback only when the key is ABSENT; an
//   explicit null is a type error. Use get_optional<T> for keys whose mmdet
//   default is None.
// * T may be bool, any integer type (range-checked; a float value is an
//   error), float/double (ints accepted), std::string, ConfigNode (raw), or a
//   std::vector of those (nesting allowed: std::vector<std::vector<int64_t>>).
// * Messages: "config: model.backbone.depth: expected an integer, got string '18'".
// * The reader keeps a pointer into the tree: the tree must outlive it.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "instseg/config/config_tree.h"
#include "instseg/core/check.h"
#include "instseg/core/compat.h"

namespace instseg {

namespace config_detail {

// "string 'abc'", "float 2.5", "null", "a list", ...
std::string describe(const ConfigNode& v);
[[noreturn]] void type_error(const std::string& path, const char* expected, const ConfigNode& got);

template <typename T, typename Enable = void>
struct ConfigValue;  // no conversion for this T: add one here

template <>
struct ConfigValue<bool> {
  static bool from(const ConfigNode& v, const std::string& path) {
    if (!v.is_boolean()) type_error(path, "true or false", v);
    return v.get<bool>();
  }
};

template <typename T>
struct ConfigValue<T, std::enable_if_t<std::is_integral<T>::value && !std::is_same<T, bool>::value>> {
  static T from(const ConfigNode& v, const std::string& path) {
    if (!v.is_number_integer()) type_error(path, "an integer", v);
    if (v.is_number_unsigned()) {
      auto u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<T>::max())) type_error(path, "an integer in range", v);
      return static_cast<T>(u);
    }
    auto x = v.get<int64_t>();
    if (x < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
        (x > 0 && static_cast<uint64_t>(x) > static_cast<uint64_t>(std::numeric_limits<T>::max())))
      type_error(path, "an integer in range", v);
    return static_cast<T>(x);
  }
};

template <typename T>
struct ConfigValue<T, std::enable_if_t<std::is_floating_point<T>::value>> {
  static T from(const ConfigNode& v, const std::string& path) {
    if (!v.is_number()) type_error(path, "a number", v);
    return v.get<T>();
  }
};

template <>
struct ConfigValue<std::string> {
  static std::string from(const ConfigNode& v, const std::string& path) {
    if (!v.is_string()) type_error(path, "a string", v);
    return v.get<std::string>();
  }
};

template <>
struct ConfigValue<ConfigNode> {
  static ConfigNode from(const ConfigNode& v, const std::string&) { return v; }
};

template <typename T>
struct ConfigValue<std::vector<T>> {
  static std::vector<T> from(const ConfigNode& v, const std::string& path) {
    if (!v.is_array()) type_error(path, "a list", v);
    std::vector<T> out;
    out.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) out.push_back(ConfigValue<T>::from(v[i], path + "." + std::to_string(i)));
    return out;
  }
};

}  // namespace config_detail

class ConfigReader {
 public:
  // `node` must be a dict; `path` is its dotted path, used in every message
  // ("" for the root).
  ConfigReader(const ConfigNode& node, std::string path);

  const std::string& path() const;
  // "<path>.<key>" (or "<key>" at the root).
  std::string key_path(const std::string& key) const;
  const ConfigNode& node() const;
  // The keys present in the dict, in file order (registers nothing).
  std::vector<std::string> keys() const;

  // Registers `key`; true when present (a null value counts as present).
  bool has(const std::string& key);
  // Registers `key`; true when present and not null.
  bool has_value(const std::string& key);

  // Required value.
  template <typename T>
  T get(const std::string& key) {
    return config_detail::ConfigValue<T>::from(require(key), key_path(key));
  }
  // Value, or `fallback` when the key is absent.
  template <typename T>
  T get(const std::string& key, const T& fallback) {
    const ConfigNode* v = lookup(key);
    return v ? config_detail::ConfigValue<T>::from(*v, key_path(key)) : fallback;
  }
  // Value, or nullopt when absent or null.
  template <typename T>
  optional<T> get_optional(const std::string& key) {
    const ConfigNode* v = lookup(key);
    if (!v || v->is_null()) return nullopt;
    return config_detail::ConfigValue<T>::from(*v, key_path(key));
  }
  // Raw node, or nullptr when absent.
  const ConfigNode* find(const std::string& key) { return lookup(key); }

  // The required `type` string.
  std::string type();
  // type(), checked against the supported list: "config: model.backbone.type:
  // unsupported type 'ResNeXt' (supported: ResNet)".
  std::string expect_type(std::initializer_list<const char*> supported);

  // Reader for a required dict value.
  ConfigReader child(const std::string& key);
  // Reader for a dict value; nullopt when absent or null.
  optional<ConfigReader> child_optional(const std::string& key);
  // Readers for a required list of dicts (paths "key.0", "key.1", ...).
  std::vector<ConfigReader> children(const std::string& key);

  // Registers `key` and throws unless it is absent or null: a key whose only
  // supported value is None (mmdet's default); `why` says why.
  void require_null(const std::string& key, const char* why) {
    if (has_value(key)) fail_key(key, "must be None: ", why);
  }

  // Keys instseg accepts and does not use.
  void ignore(std::initializer_list<const char*> keys);
  void ignore(const std::vector<std::string>& keys);

  // Throws for unknown keys here and in every child reader (all of them, one
  // line each). Safe to call more than once.
  void finish();

  // Throws instseg::Error "config: <path>.<key>: <message>".
  template <typename... Args>
  [[noreturn]] void fail_key(const std::string& key, const Args&... message) const {
    fail("config: ", key_path(key), ": ", message...);
  }

 private:
  struct State;
  explicit ConfigReader(std::shared_ptr<State> state);
  const ConfigNode* lookup(const std::string& key);  // registers; nullptr when absent
  const ConfigNode& require(const std::string& key);
  std::shared_ptr<State> state_;
};

// Levenshtein distance (used for "did you mean" suggestions).
size_t edit_distance(const std::string& a, const std::string& b);

// The closest of `candidates` to `key` when it is close enough to be a likely
// typo, else "".
std::string closest_key(const std::string& key, const std::vector<std::string>& candidates);

}  // namespace instseg
