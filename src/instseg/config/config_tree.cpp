#include "instseg/config/config_tree.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <regex>
#include <sstream>

#include "instseg/core/check.h"

namespace fs = std::filesystem;

namespace instseg {
namespace {

std::string join_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string lower_ext(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("config: cannot open '", path, "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- YAML 1.1 (PyYAML) scalar resolution ---------------------------------

bool is_yaml_null(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// PyYAML's bool resolver: each word in lower, Capitalised and UPPER case.
int yaml_bool(const std::string& s) {
  static const char* kTrue[] = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  static const char* kFalse[] = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
  for (const char* t : kTrue)
    if (s == t) return 1;
  for (const char* f : kFalse)
    if (s == f) return 0;
  return -1;
}

// Digits of `base` with single '_' separators allowed (YAML 1.1 allows any '_').
bool parse_digits(const std::string& s, int base, long long sign, ConfigNode* out) {
  if (s.empty()) return false;
  std::string digits;
  for (char c : s) {
    if (c == '_') continue;
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v < 0 || v >= base) return false;
    digits.push_back(c);
  }
  if (digits.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(digits.c_str(), &end, base);
  if (errno == ERANGE) {
    if (base != 10) return false;
    *out = static_cast<double>(sign) * std::strtod(digits.c_str(), nullptr);
    return true;
  }
  *out = sign * v;
  return true;
}

bool yaml_int(const std::string& s, ConfigNode* out) {
  if (s.empty()) return false;
  size_t i = 0;
  long long sign = 1;
  if (s[0] == '+' || s[0] == '-') {
    sign = s[0] == '-' ? -1 : 1;
    i = 1;
  }
  std::string body = s.substr(i);
  if (body.empty()) return false;
  if (body.rfind("0b", 0) == 0) return parse_digits(body.substr(2), 2, sign, out);
  if (body.rfind("0x", 0) == 0) return parse_digits(body.substr(2), 16, sign, out);
  if (body.rfind("0o", 0) == 0) return parse_digits(body.substr(2), 8, sign, out);
  if (body == "0") {
    *out = 0;
    return true;
  }
  if (body[0] == '0') return parse_digits(body.substr(1), 8, sign, out);
  if (body[0] < '1' || body[0] > '9') return false;
  return parse_digits(body, 10, sign, out);
}

bool yaml_float(const std::string& s, ConfigNode* out) {
  static const std::regex kInf(R"([-+]?\.(inf|Inf|INF))");
  static const std::regex kNan(R"(\.(nan|NaN|NAN))");
  // PyYAML's float plus exponents without a dot or sign (1e-4, 1E5).
  static const std::regex kFloat(
      R"([-+]?([0-9][0-9_]*(\.[0-9_]*)?|\.[0-9][0-9_]*)([eE][-+]?[0-9]+)?)");
  if (std::regex_match(s, kInf)) {
    *out = s[0] == '-' ? -std::numeric_limits<double>::infinity()
                       : std::numeric_limits<double>::infinity();
    return true;
  }
  if (std::regex_match(s, kNan)) {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (!std::regex_match(s, kFloat)) return false;
  // Without a dot or exponent it is an int (or not a number: "08").
  if (s.find_first_of(".eE") == std::string::npos) return false;
  std::string clean;
  for (char c : s)
    if (c != '_') clean.push_back(c);
  *out = std::strtod(clean.c_str(), nullptr);
  return true;
}

// ---- yaml-cpp -> ConfigNode -----------------------------------------------

ConfigNode from_yaml(const YAML::Node& n, const std::string& what, const std::string& path);

std::string where(const std::string& what, const YAML::Node& n, const std::string& path) {
  auto m = n.Mark();
  std::string s = "config: " + what;
  if (!m.is_null()) s += str_cat(":", m.line + 1, ":", m.column + 1);
  return s + ": " + (path.empty() ? "<root>" : path) + ": ";
}

ConfigNode scalar_from_yaml(const YAML::Node& n, const std::string& what, const std::string& path) {
  const std::string& tag = n.Tag();
  const std::string& v = n.Scalar();
  if (tag == "?") return resolve_yaml_scalar(v);  // plain scalar
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return ConfigNode(v);  // quoted / !!str
  ConfigNode out;
  if (tag == "tag:yaml.org,2002:int") {
    if (yaml_int(v, &out)) return out;
  } else if (tag == "tag:yaml.org,2002:float") {
    if (yaml_float(v, &out) || yaml_int(v, &out)) return ConfigNode(out.get<double>());
  } else if (tag == "tag:yaml.org,2002:bool") {
    int b = yaml_bool(v);
    if (b >= 0) return ConfigNode(b == 1);
  } else if (tag == "tag:yaml.org,2002:null") {
    if (is_yaml_null(v)) return ConfigNode(nullptr);
  } else {
    fail(where(what, n, path), "unsupported YAML tag '", tag, "'");
  }
  fail(where(what, n, path), "'", v, "' is not a valid ", tag.substr(tag.rfind(':') + 1));
}

ConfigNode from_yaml(const YAML::Node& n, const std::string& what, const std::string& path) {
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return ConfigNode(nullptr);
    case YAML::NodeType::Scalar:
      return scalar_from_yaml(n, what, path);
    case YAML::NodeType::Sequence: {
      // Plain lists, and mmengine's `!!python/tuple` dumps of tuples.
      const std::string& tag = n.Tag();
      if (tag != "?" && tag != "!" && tag != "tag:yaml.org,2002:seq" &&
          tag != "tag:yaml.org,2002:python/tuple")
        fail(where(what, n, path), "unsupported YAML tag '", tag, "'");
      ConfigNode arr = ConfigNode::array();
      size_t i = 0;
      for (const auto& item : n) arr.push_back(from_yaml(item, what, join_path(path, std::to_string(i++))));
      return arr;
    }
    case YAML::NodeType::Map: {
      ConfigNode obj = ConfigNode::object();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar()) fail(where(what, kv.first, path), "dict keys must be plain scalars");
        const std::string& key = kv.first.Scalar();
        if (obj.contains(key)) fail(where(what, kv.first, path), "duplicate key '", key, "'");
        obj[key] = from_yaml(kv.second, what, join_path(path, key));
      }
      return obj;
    }
  }
  return ConfigNode(nullptr);
}

// ---- _base_ / _delete_ -----------------------------------------------------

std::string type_name(const ConfigNode& v) {
  if (v.is_object()) return "dict";
  if (v.is_array()) return "list";
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "bool";
  if (v.is_number_integer()) return "int";
  if (v.is_number()) return "float";
  return "null";
}

bool take_delete_flag(const ConfigNode& dict, const std::string& what, const std::string& path) {
  auto it = dict.find("_delete_");
  if (it == dict.end()) return false;
  if (!it->is_boolean()) fail("config: ", what, ": ", join_path(path, "_delete_"), ": expected true or false");
  return it->get<bool>();
}

void strip_delete(ConfigNode& node) {
  if (node.is_object()) {
    node.erase("_delete_");
    for (auto& [k, v] : node.items()) strip_delete(v);
  } else if (node.is_array()) {
    for (auto& v : node) strip_delete(v);
  }
}

void merge_into(ConfigNode& b, const ConfigNode& a, const std::string& what, const std::string& path) {
  for (const auto& [k, v] : a.items()) {
    const std::string p = join_path(path, k);
    if (k == "_delete_") continue;
    if (v.is_object()) {
      bool del = take_delete_flag(v, what, p);
      auto it = b.find(k);
      if (it != b.end() && !del) {
        if (it->is_object()) {
          merge_into(*it, v, what, p);
          continue;
        }
        if (!it->is_null())
          fail("config: ", what, ": ", p, ": is a dict here but a ", type_name(*it),
               " in the base config; set `_delete_: true` in it to replace the base value");
      }
      ConfigNode copy = v;
      strip_delete(copy);
      b[k] = std::move(copy);
    } else {
      b[k] = v;
    }
  }
}

// mmengine substitutes these templates; we do not, so say so instead of
// silently keeping the literal text.
void check_templates(const ConfigNode& node, const std::string& what, const std::string& path) {
  if (node.is_object()) {
    for (const auto& [k, v] : node.items()) check_templates(v, what, join_path(path, k));
  } else if (node.is_array()) {
    size_t i = 0;
    for (const auto& v : node) check_templates(v, what, join_path(path, std::to_string(i++)));
  } else if (node.is_string()) {
    static const std::regex kTemplate(
        R"(\{\{\s*(_base_\.|fileDirname|fileBasename|fileBasenameNoExtension|fileExtname|\$))");
    const auto& s = node.get_ref<const std::string&>();
    if (s.find("{{") != std::string::npos && std::regex_search(s, kTemplate))
      fail("config: ", what, ": ", path, ": template '", s,
           "' is not supported (instseg does not substitute {{...}} variables; write the value)");
  }
}

// ---- YAML output -----------------------------------------------------------

std::string format_float(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v < 0 ? "-.inf" : ".inf";
  std::string s = ConfigNode(v).dump();  // shortest round-trip form
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

void emit(YAML::Emitter& out, const ConfigNode& v) {
  if (v.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [k, x] : v.items()) {
      out << YAML::Key;
      if (!resolve_yaml_scalar(k).is_string()) out << YAML::DoubleQuoted;
      out << k << YAML::Value;
      emit(out, x);
    }
    out << YAML::EndMap;
  } else if (v.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& x : v) emit(out, x);
    out << YAML::EndSeq;
  } else if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (!resolve_yaml_scalar(s).is_string()) out << YAML::DoubleQuoted;
    out << s;
  } else if (v.is_boolean()) {
    out << (v.get<bool>() ? "true" : "false");
  } else if (v.is_number_integer()) {
    out << v.dump();
  } else if (v.is_number()) {
    out << format_float(v.get<double>());
  } else {
    out << YAML::Null;
  }
}

}  // namespace

ConfigNode resolve_yaml_scalar(const std::string& s) {
  if (is_yaml_null(s)) return ConfigNode(nullptr);
  int b = yaml_bool(s);
  if (b >= 0) return ConfigNode(b == 1);
  ConfigNode out;
  if (yaml_int(s, &out)) return out;
  if (yaml_float(s, &out)) return out;
  return ConfigNode(s);
}

namespace {

// PyYAML reads only printable Unicode (its Reader: tab, LF, CR, 0x20-0x7E,
// NEL, 0xA0-0xD7FF, 0xE000-0xFFFD, 0x10000-0x10FFFF) in valid UTF-8, so
// mmengine cannot load anything else; yaml-cpp takes any bytes, and a key
// with invalid UTF-8 would later break every JSON writer of the config.
void check_yaml_text(const std::string& text, const std::string& what) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    uint32_t cp = c;
    size_t n = 1;
    if (c >= 0x80) {
      n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
      if (c >= 0xF5) n = 0;
      bool ok = n > 0 && i + n <= text.size();
      cp = n == 2 ? c & 0x1Fu : n == 3 ? c & 0x0Fu : c & 0x07u;
      for (size_t k = 1; ok && k < n; ++k) {
        const unsigned char d = static_cast<unsigned char>(text[i + k]);
        ok = (d & 0xC0) == 0x80;
        cp = cp << 6 | (d & 0x3Fu);
      }
      // Overlong forms, surrogates and code points past U+10FFFF are invalid too.
      ok = ok && !(n == 3 && cp < 0x800) && !(n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) &&
           !(cp >= 0xD800 && cp <= 0xDFFF);
      if (!ok) fail("config: ", what, ":", line, ":", col, ": invalid UTF-8 at byte ", i, " (YAML files are UTF-8)");
    }
    const bool printable = cp == 0x09 || cp == 0x0A || cp == 0x0D || (cp >= 0x20 && cp <= 0x7E) || cp == 0x85 ||
                           (cp >= 0xA0 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) || cp >= 0x10000;
    if (!printable) {
      char hex[16];
      std::snprintf(hex, sizeof(hex), "U+%04X", static_cast<unsigned>(cp));
      fail("config: ", what, ":", line, ":", col, ": control character ", hex,
           " is not allowed in YAML (PyYAML refuses it too)");
    }
    if (cp == 0x0A) {
      ++line;
      col = 1;
    } else {
      ++col;
    }
    i += n;
  }
}

}  // namespace

ConfigNode parse_yaml_config(const std::string& text, const std::string& what) {
  check_yaml_text(text, what);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail("config: ", what, ":", e.mark.line + 1, ":", e.mark.column + 1, ": YAML syntax error: ", e.msg);
  }
  ConfigNode tree = from_yaml(root, what, "");
  if (tree.is_null()) return ConfigNode::object();
  if (!tree.is_object()) fail("config: ", what, ": the top level must be a dict, got a ", type_name(tree));
  return tree;
}

ConfigNode read_config_file(const std::string& path) {
  const std::string ext = lower_ext(path);
  if (ext != ".yaml" && ext != ".yml" && ext != ".json")
    fail("config: ", path, ": unsupported config file type '", ext,
         "' (use .yaml, .yml or .json; Python configs: dump them with mmengine's cfg.dump('x.yaml'))");
  const std::string text = read_text(path);
  if (ext != ".json") return parse_yaml_config(text, path);
  ConfigNode tree;
  try {
    tree = ConfigNode::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and out_of_range for a number beyond double (1e999...).
    fail("config: ", path, ": JSON syntax error: ", e.what());
  }
  if (!tree.is_object()) fail("config: ", path, ": the top level must be a dict, got a ", type_name(tree));
  return tree;
}

ConfigNode merge_config(const ConfigNode& base, const ConfigNode& child, const std::string& what) {
  ConfigNode out = base;
  merge_into(out, child, what, "");
  strip_delete(out);
  return out;
}

ConfigNode load_config(const std::string& path) {
  ConfigNode child = read_config_file(path);
  auto it = child.find("_base_");
  if (it == child.end()) {
    strip_delete(child);
    check_templates(child, path, "");
    return child;
  }
  std::vector<std::string> bases;
  if (it->is_string()) {
    bases.push_back(it->get<std::string>());
  } else if (it->is_array()) {
    for (const auto& b : *it) {
      if (!b.is_string()) fail("config: ", path, ": _base_: expected a path or a list of paths");
      bases.push_back(b.get<std::string>());
    }
  } else {
    fail("config: ", path, ": _base_: expected a path or a list of paths, got a ", type_name(*it));
  }
  child.erase("_base_");

  ConfigNode merged = ConfigNode::object();
  std::map<std::string, std::string> origin;  // key -> base file that defined it
  for (const auto& rel : bases) {
    fs::path bp = fs::path(rel).is_absolute() ? fs::path(rel) : fs::path(path).parent_path() / rel;
    const std::string bpath = bp.lexically_normal().string();
    // error_code overloads: a name too long for the file system (or any other
    // status error) is a config error, not an uncaught filesystem_error.
    std::error_code ec;
    const bool exists = fs::exists(bp, ec);
    if (ec) fail("config: ", path, ": _base_ file '", bpath, "': ", ec.message());
    if (!exists) fail("config: ", path, ": _base_ file '", bpath, "' does not exist");
    if (fs::is_directory(bp, ec)) fail("config: ", path, ": _base_ '", bpath, "' is a directory, not a config file");
    ConfigNode base = read_config_file(bpath);
    if (base.contains("_base_"))
      fail("config: ", path, ": its base '", bpath,
           "' has a _base_ of its own; only one level of _base_ is supported (merge the two files)");
    for (auto& [k, v] : base.items()) {
      auto o = origin.find(k);
      if (o != origin.end())
        fail("config: ", path, ": key '", k, "' is defined in two bases ('", o->second, "' and '", bpath,
             "'); mmengine does not allow duplicate keys among bases");
      origin[k] = bpath;
      merged[k] = v;
    }
  }
  ConfigNode out = merge_config(merged, child, path);
  check_templates(out, path, "");
  return out;
}

std::string config_to_yaml(const ConfigNode& node) {
  YAML::Emitter out;
  out.SetIndent(2);
  emit(out, node);
  return std::string(out.c_str()) + "\n";
}

void save_config(const ConfigNode& node, const std::string& path) {
  const std::string ext = lower_ext(path);
  std::string text;
  if (ext == ".json") text = node.dump(2) + "\n";
  else if (ext == ".yaml" || ext == ".yml") text = config_to_yaml(node);
  else fail("config: ", path, ": cannot save a config as '", ext, "' (use .yaml, .yml or .json)");
  std::ofstream f(path, std::ios::binary);
  if (!f) fail("config: cannot write '", path, "'");
  f << text;
  if (!f) fail("config: error writing '", path, "'");
}

}  // namespace instseg
