#include "instseg/checkpoint/inspect.h"

#include "instseg/core/require.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>

namespace instseg {
namespace {

void flatten(const PyValue& v, const std::string& prefix, CheckpointInfo& info, int depth) {
  if (depth > 32) return;
  if (v.is_tensor()) {
    const TensorDesc& t = v.tensor_desc();
    info.tensors.push_back({prefix, t.sizes, dtype_name(t.dtype)});
    // Expanded views (stride 0) of a hostile file can each claim ~2^62 elements: saturate.
    if (__builtin_add_overflow(info.num_elements, t.numel(), &info.num_elements))
      info.num_elements = std::numeric_limits<int64_t>::max();
    return;
  }
  auto join = [&](const std::string& k) { return prefix.empty() ? k : prefix + "." + k; };
  if (v.is_dict()) {
    for (const auto& kv : v.dict_items())
      flatten(kv.second, join(kv.first.is_str() ? kv.first.as_str() : kv.first.repr()), info, depth + 1);
  } else if (v.is_list() || v.is_tuple()) {
    for (size_t i = 0; i < v.items().size(); ++i) flatten(v.items()[i], join(std::to_string(i)), info, depth + 1);
  }
}

std::string kind_summary(const PyValue& v) {
  if (v.is_dict() || v.is_list() || v.is_tuple())
    return str_cat(v.kind_name(), ", ", v.size(), v.size() == 1 ? " entry" : " entries");
  if (v.is_opaque()) return str_cat("object ", v.as_str());
  return v.repr(2, 4);
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

std::string abbreviate(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  return s.substr(0, n) + str_cat("... (", s.size(), " chars)");
}

std::string json_float(double d) {
  if (!std::isfinite(d)) return "null";
  char buf[40];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof(buf), "%.*g", prec, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string s = buf;
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

void json_to(const PyValue& v, std::ostringstream& os, int depth) {
  using K = PyValue::Kind;
  if (depth > 64) {
    os << "null";
    return;
  }
  switch (v.kind()) {
    case K::None: os << "null"; break;
    case K::Bool: os << (v.as_bool() ? "true" : "false"); break;
    case K::Int: os << (v.is_big_int() ? json_quote(v.as_str()) : std::to_string(v.as_int())); break;
    case K::Float: os << json_float(v.as_float()); break;
    case K::Str: os << json_quote(v.as_str()); break;
    case K::Bytes: os << "{\"__bytes__\": " << v.as_str().size() << "}"; break;
    case K::List:
    case K::Tuple: {
      os << "[";
      const auto& items = v.items();
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) os << ", ";
        json_to(items[i], os, depth + 1);
      }
      os << "]";
      break;
    }
    case K::Dict: {
      os << "{";
      const auto& items = v.dict_items();
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) os << ", ";
        os << json_quote(items[i].first.is_str() ? items[i].first.as_str() : items[i].first.repr()) << ": ";
        json_to(items[i].second, os, depth + 1);
      }
      os << "}";
      break;
    }
    case K::Tensor:
    case K::Storage: {
      const std::vector<int64_t> shape = v.is_tensor() ? v.tensor_desc().sizes : std::vector<int64_t>{v.storage_ref().numel};
      os << "{\"tensor\": {\"shape\": [";
      for (size_t d = 0; d < shape.size(); ++d) os << (d ? ", " : "") << shape[d];
      os << "], \"dtype\": "
         << json_quote(dtype_name(v.is_tensor() ? v.tensor_desc().dtype : v.storage_ref().dtype)) << "}}";
      break;
    }
    case K::Global: os << "{\"__global__\": " << json_quote(v.as_str()) << "}"; break;
    case K::Opaque: os << "{\"__object__\": " << json_quote(v.as_str()) << "}"; break;
  }
}

}  // namespace

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string to_json(const PyValue& v) {
  std::ostringstream os;
  json_to(v, os, 0);
  return os.str();
}

CheckpointInfo inspect_checkpoint(const std::string& path) { return describe_checkpoint(PthArchive(path).file()); }

CheckpointInfo describe_checkpoint(const PthFile& file) {
  CheckpointInfo info;
  info.path = file.path;
  info.format = file.format;
  const PyValue& weights = find_weights(file.root, &info.weights_key);
  if (const PyValue* meta = file.root.get("meta")) info.meta = *meta;
  if (file.root.is_dict() && !info.weights_key.empty()) {
    for (const auto& kv : file.root.dict_items()) {
      std::string key = kv.first.is_str() ? kv.first.as_str() : kv.first.repr();
      if (kv.first.is_str() && (key == "meta" || key == info.weights_key)) continue;
      info.other_keys.push_back(key);
      info.other_kinds.push_back(kind_summary(kv.second));
    }
  }
  if (info.weights_key.empty() && file.root.is_dict()) {
    // Top-level weights: the tensors are the top-level entries; 'meta' is shown separately.
    for (const auto& kv : file.root.dict_items()) {
      if (kv.first.is_str() && kv.first.as_str() == "meta") continue;
      flatten(kv.second, kv.first.is_str() ? kv.first.as_str() : kv.first.repr(), info, 1);
    }
  } else {
    flatten(weights, "", info, 0);
  }
  return info;
}

std::string inspect_text(const CheckpointInfo& info) {
  std::ostringstream os;
  os << "file: " << info.path << "\n";
  os << "format: " << info.format << "\n";
  if (info.meta.is_dict()) {
    os << "meta:\n";
    for (const auto& kv : info.meta.dict_items()) {
      std::string key = kv.first.is_str() ? kv.first.as_str() : kv.first.repr();
      os << "  " << key << ": " << abbreviate(kv.second.repr(4, 16), 160) << "\n";
    }
  } else if (!info.meta.is_none()) {
    os << "meta: " << abbreviate(info.meta.repr(4, 16), 160) << "\n";
  }
  for (size_t i = 0; i < info.other_keys.size(); ++i)
    os << "entry: " << info.other_keys[i] << " (" << info.other_kinds[i] << ")\n";
  os << "weights: " << (info.weights_key.empty() ? "(top level)" : info.weights_key) << ", " << info.tensors.size()
     << " tensors, " << info.num_elements << " elements\n";
  size_t width = 0;
  for (const auto& t : info.tensors) width = std::max(width, t.key.size());
  for (const auto& t : info.tensors) {
    os << "  " << t.key << std::string(width - t.key.size() + 2, ' ') << shape_text(t.shape) << "  " << t.dtype
       << "\n";
  }
  return os.str();
}

std::string inspect_json(const CheckpointInfo& info) {
  std::ostringstream os;
  os << "{\n  \"file\": " << json_quote(info.path) << ",\n  \"format\": " << json_quote(info.format)
     << ",\n  \"weights_key\": " << json_quote(info.weights_key) << ",\n  \"meta\": " << to_json(info.meta)
     << ",\n  \"other_keys\": [";
  for (size_t i = 0; i < info.other_keys.size(); ++i) os << (i ? ", " : "") << json_quote(info.other_keys[i]);
  os << "],\n  \"num_tensors\": " << info.tensors.size() << ",\n  \"num_elements\": " << info.num_elements
     << ",\n  \"tensors\": [";
  for (size_t i = 0; i < info.tensors.size(); ++i) {
    const auto& t = info.tensors[i];
    os << (i ? ",\n" : "\n") << "    {\"key\": " << json_quote(t.key) << ", \"shape\": [";
    for (size_t d = 0; d < t.shape.size(); ++d) os << (d ? ", " : "") << t.shape[d];
    os << "], \"dtype\": " << json_quote(t.dtype) << "}";
  }
  os << (info.tensors.empty() ? "]\n}\n" : "\n  ]\n}\n");
  return os.str();
}

}  // namespace instseg
