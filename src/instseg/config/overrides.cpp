#include "instseg/config/overrides.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <regex>

#include "instseg/config/top_level.h"
#include "instseg/core/check.h"

namespace instseg {
namespace {

bool is_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Python's int(s) / float(s) accept '_' only between digits.
bool underscores_ok(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '_') continue;
    if (i == 0 || i + 1 == s.size()) return false;
    if (!std::isdigit(static_cast<unsigned char>(s[i - 1])) ||
        !std::isdigit(static_cast<unsigned char>(s[i + 1])))
      return false;
  }
  return true;
}

std::string drop_underscores(const std::string& s) {
  std::string out;
  for (char c : s)
    if (c != '_') out.push_back(c);
  return out;
}

// DictAction._parse_int_float_bool
ConfigNode parse_scalar(const std::string& val) {
  static const std::regex kInt(R"([+-]?[0-9][0-9_]*)");
  static const std::regex kFloat(R"([+-]?([0-9][0-9_]*\.?([0-9][0-9_]*)?|\.[0-9][0-9_]*)([eE][+-]?[0-9][0-9_]*)?)");
  if (std::regex_match(val, kInt) && underscores_ok(val)) {
    std::string d = drop_underscores(val);
    errno = 0;
    long long v = std::strtoll(d.c_str(), nullptr, 10);
    if (errno != ERANGE) return ConfigNode(v);
    return ConfigNode(std::strtod(d.c_str(), nullptr));  // Python would keep a big int
  }
  if (std::regex_match(val, kFloat) && underscores_ok(val)) {
    return ConfigNode(std::strtod(drop_underscores(val).c_str(), nullptr));
  }
  const std::string l = lower(val);
  {
    std::string body = l;
    double sign = 1.0;
    if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
      sign = body[0] == '-' ? -1.0 : 1.0;
      body = body.substr(1);
    }
    if (body == "inf" || body == "infinity") return ConfigNode(sign * std::numeric_limits<double>::infinity());
    if (body == "nan") return ConfigNode(std::numeric_limits<double>::quiet_NaN());
  }
  if (l == "true") return ConfigNode(true);
  if (l == "false") return ConfigNode(false);
  if (val == "None") return ConfigNode(nullptr);
  return ConfigNode(val);
}

size_t count(const std::string& s, char c, size_t end) {
  size_t n = 0;
  for (size_t i = 0; i < end; ++i) n += s[i] == c;
  return n;
}

// Index of the first ',' outside brackets (or s.size()).
size_t find_next_comma(const std::string& s, const std::string& whole) {
  if (count(s, '(', s.size()) != count(s, ')', s.size()) || count(s, '[', s.size()) != count(s, ']', s.size()))
    fail("config: --cfg-options: imbalanced brackets in '", whole, "'");
  int paren = 0, square = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == ',' && paren == 0 && square == 0) return i;
    if (c == '(') ++paren;
    else if (c == ')') --paren;
    else if (c == '[') ++square;
    else if (c == ']') --square;
  }
  return s.size();
}

ConfigNode parse_iterable(std::string val, const std::string& whole) {
  // val.strip('\'"').replace(' ', '')
  size_t b = val.find_first_not_of("'\"");
  size_t e = val.find_last_not_of("'\"");
  val = b == std::string::npos ? std::string() : val.substr(b, e - b + 1);
  std::string nospace;
  for (char c : val)
    if (c != ' ') nospace.push_back(c);
  val = nospace;

  bool bracketed = val.size() >= 2 && ((val.front() == '(' && val.back() == ')') ||
                                       (val.front() == '[' && val.back() == ']'));
  if (bracketed) {
    val = val.substr(1, val.size() - 2);
  } else if (val.find(',') == std::string::npos) {
    return parse_scalar(val);
  }
  ConfigNode out = ConfigNode::array();
  // "a,(b" style input with no top-level comma would recurse on itself
  // forever (it does in mmengine): keep it as a string.
  if (!bracketed && find_next_comma(val, whole) == val.size()) return parse_scalar(val);
  while (!val.empty()) {
    size_t comma = find_next_comma(val, whole);
    out.push_back(parse_iterable(val.substr(0, comma), whole));
    val = comma < val.size() ? val.substr(comma + 1) : std::string();
  }
  return out;
}

std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  for (const auto& p : parts)
    if (p.empty()) fail("config: --cfg-options: bad key '", key, "' (empty path component)");
  return parts;
}

const char* kind(const ConfigNode& v) {
  if (v.is_object()) return "dict";
  if (v.is_array()) return "list";
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "bool";
  if (v.is_number_integer()) return "int";
  if (v.is_number()) return "float";
  return "null";
}

}  // namespace

ConfigNode parse_override_value(const std::string& text) { return parse_iterable(text, text); }

std::pair<std::string, ConfigNode> parse_override(const std::string& kv) {
  size_t eq = kv.find('=');
  if (eq == std::string::npos)
    fail("config: --cfg-options: '", kv, "' is not of the form key=value");
  std::string key = kv.substr(0, eq);
  if (key.empty()) fail("config: --cfg-options: '", kv, "' has an empty key");
  return {key, parse_override_value(kv.substr(eq + 1))};
}

void apply_override(ConfigNode& tree, const std::string& key, const ConfigNode& value) {
  const auto parts = split_key(key);
  ConfigNode* cur = &tree;
  std::string walked;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    const bool last = i + 1 == parts.size();
    if (cur->is_null()) *cur = ConfigNode::object();
    if (cur->is_array()) {
      if (!is_digits(p))
        fail("config: --cfg-options ", key, ": '", walked, "' is a list; '", p, "' is not an index");
      size_t idx = std::stoul(p);
      if (idx >= cur->size())
        fail("config: --cfg-options ", key, ": index ", idx, " is out of range for '", walked, "' (a list of ",
             cur->size(), ")");
      cur = &(*cur)[idx];
    } else if (cur->is_object()) {
      if (last) {
        (*cur)[p] = value;
        return;
      }
      cur = &(*cur)[p];  // creates a missing key as null -> dict on the next step
    } else {
      fail("config: --cfg-options ", key, ": '", walked, "' is a ", kind(*cur), ", not a dict or list");
    }
    walked = walked.empty() ? p : walked + "." + p;
    if (last) *cur = value;
  }
}

void apply_overrides(ConfigNode& tree, const std::vector<std::string>& items) {
  for (const auto& kv : items) {
    auto [key, value] = parse_override(kv);
    apply_override(tree, key, value);
  }
}

ConfigNode load_config_with_overrides(const std::string& path, const std::vector<std::string>& cfg_options) {
  ConfigNode cfg = load_config(path);
  check_override_top_level_keys(cfg, cfg_options);
  apply_overrides(cfg, cfg_options);
  check_top_level(cfg);
  return cfg;
}

}  // namespace instseg
