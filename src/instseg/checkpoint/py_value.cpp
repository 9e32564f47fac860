#include "instseg/checkpoint/py_value.h"

#include "instseg/core/require.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <unordered_map>

namespace instseg {

struct PyValue::Node {
  Kind kind = Kind::None;
  bool b = false;
  bool big = false;
  int64_t i = 0;
  double f = 0.0;
  std::string s;  // str, bytes, big-int text, global / opaque class name
  Items items;    // list / tuple elements, opaque appended items
  DictItems dict;  // dict entries, opaque set items
  std::unordered_map<std::string, size_t> index;  // hashable key signature -> position in dict
  TensorDesc tensor;   // tensor
  StorageRef storage;  // storage
  std::any data;       // tensor, storage: the LibTorch side's at::Tensor
  std::unique_ptr<PyValue> args;   // opaque: constructor args (null = None)
  std::unique_ptr<PyValue> state;  // opaque: BUILD state (null = None)
  int depth = 0;
};

namespace {

// A signature equal for keys Python treats as equal (for the common hashable kinds);
// empty when the key kind is not indexed (such keys are only appended). Tuple
// keys are capped at kMaxTupleSignature bytes: tuples of shared tuples would
// otherwise expand exponentially (a few hundred bytes of pickle -> GBs).
constexpr size_t kMaxTupleSignature = 4096;
std::string key_signature(const PyValue& k) {
  switch (k.kind()) {
    case PyValue::Kind::Str: return "s" + k.as_str();
    case PyValue::Kind::Bytes: return "b" + k.as_str();
    case PyValue::Kind::Bool:
    case PyValue::Kind::Int: return k.is_big_int() ? "i" + k.as_str() : "i" + std::to_string(k.as_int());
    case PyValue::Kind::None: return "n";
    case PyValue::Kind::Float: {
      double v = k.as_float();
      if (std::floor(v) == v && std::fabs(v) < 9e18) return "i" + std::to_string(static_cast<int64_t>(v));
      char buf[40];
      std::snprintf(buf, sizeof(buf), "f%.17g", v);
      return buf;
    }
    case PyValue::Kind::Tuple: {
      std::string sig = "t(";
      for (const auto& e : k.items()) {
        if (e.is_tuple() && e.depth() > 8) return "";
        std::string es = key_signature(e);
        if (es.empty() || sig.size() + es.size() > kMaxTupleSignature) return "";
        sig += std::to_string(es.size()) + ":" + es;
      }
      return sig + ")";
    }
    case PyValue::Kind::Global: return "g" + k.as_str();
    default: return "";
  }
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (unsigned char c : s) {
    if (c == '\\' || c == '\'') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

std::string quote_bytes(const std::string& s) {
  std::string out = "b'";
  for (unsigned char c : s) {
    if (c == '\\' || c == '\'') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n' || c == '\t' || c == '\r') {
      out += c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\r";
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  return out + "'";
}

// Shortest decimal that reads back to the same double, like Python's repr.
std::string float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof(buf), "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

void repr_to(const PyValue& v, std::ostringstream& os, int depth_left, size_t max_items);

void repr_seq(const PyValue::Items& items, std::ostringstream& os, int depth_left, size_t max_items) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) os << ", ";
    if (i >= max_items) {
      os << "... (" << items.size() << " items)";
      break;
    }
    repr_to(items[i], os, depth_left - 1, max_items);
  }
}

void repr_dict(const PyValue::DictItems& items, std::ostringstream& os, int depth_left, size_t max_items) {
  os << "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) os << ", ";
    if (i >= max_items) {
      os << "... (" << items.size() << " items)";
      break;
    }
    repr_to(items[i].first, os, depth_left - 1, max_items);
    os << ": ";
    repr_to(items[i].second, os, depth_left - 1, max_items);
  }
  os << "}";
}

std::string shape_str(const std::vector<int64_t>& sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

void repr_to(const PyValue& v, std::ostringstream& os, int depth_left, size_t max_items) {
  using K = PyValue::Kind;
  if (depth_left < 0 && v.size() > 0) {
    os << "...";
    return;
  }
  switch (v.kind()) {
    case K::None: os << "None"; break;
    case K::Bool: os << (v.as_bool() ? "True" : "False"); break;
    case K::Int: os << (v.is_big_int() ? v.as_str() : std::to_string(v.as_int())); break;
    case K::Float: os << float_repr(v.as_float()); break;
    case K::Str: os << quote(v.as_str()); break;
    case K::Bytes: os << quote_bytes(v.as_str()); break;
    case K::List:
      os << "[";
      repr_seq(v.items(), os, depth_left, max_items);
      os << "]";
      break;
    case K::Tuple:
      os << "(";
      repr_seq(v.items(), os, depth_left, max_items);
      os << (v.items().size() == 1 ? ",)" : ")");
      break;
    case K::Dict: repr_dict(v.dict_items(), os, depth_left, max_items); break;
    case K::Tensor: {
      const TensorDesc& t = v.tensor_desc();
      os << "tensor(shape=" << shape_str(t.sizes) << ", dtype=" << dtype_name(t.dtype) << ")";
      break;
    }
    case K::Storage: {
      const StorageRef& s = v.storage_ref();
      os << "storage(shape=" << shape_str({s.numel}) << ", dtype=" << dtype_name(s.dtype) << ")";
      break;
    }
    case K::Global: os << "<" << v.as_str() << ">"; break;
    case K::Opaque: {
      os << "<" << v.as_str();
      if (v.opaque_args().size() > 0) {
        os << " args=";
        repr_to(v.opaque_args(), os, depth_left - 1, max_items);
      }
      if (!v.opaque_state().is_none()) {
        os << " state=";
        repr_to(v.opaque_state(), os, depth_left - 1, max_items);
      }
      if (!v.items().empty()) {
        os << " items=[";
        repr_seq(v.items(), os, depth_left, max_items);
        os << "]";
      }
      if (!v.dict_items().empty()) {
        os << " dict=";
        repr_dict(v.dict_items(), os, depth_left, max_items);
      }
      os << ">";
      break;
    }
  }
}

}  // namespace

int64_t TensorDesc::numel() const {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}

PyValue::PyValue() : node_(std::make_shared<Node>()) {}
PyValue::PyValue(std::shared_ptr<Node> n) : node_(std::move(n)) {}

PyValue::Node& PyValue::node() const { return *node_; }

PyValue PyValue::none() { return PyValue(); }

PyValue PyValue::from_bool(bool v) {
  auto n = std::make_shared<Node>();
  n->kind = Kind::Bool;
  n->b = v;
  n->i = v ? 1 : 0;
  return PyValue(n);
}

PyValue PyValue::from_int(int64_t v) {
  auto n = std::make_shared<Node>();
  n->kind = Kind::Int;
  n->i = v;
  return PyValue(n);
}

PyValue PyValue::big_int(const std::string& decimal) {
  auto n = std::make_shared<Node>();
  n->kind = Kind::Int;
  n->big = true;
  n->s = decimal;
  return PyValue(n);
}

PyValue PyValue::from_float(double v) {
  auto n = std::make_shared<Node>();
  n->kind = Kind::Float;
  n->f = v;
  return PyValue(n);
}

PyValue PyValue::str(const std::string& utf8) {
  auto n = std::make_shared<Node>();
  n->kind = Kind::Str;
  n->s = utf8;
  return PyValue(n);
}

PyValue PyValue::bytes(const std::string& raw) {
  auto n = std::make_shared<Node>();
  n->kind = Kind::Bytes;
  n->s = raw;
  return PyValue(n);
}

PyValue PyValue::list(Items items) {
  auto n = std::make_shared<Node>();
  n->kind = Kind::List;
  for (const auto& e : items) n->depth = std::max(n->depth, e.depth() + 1);
  if (items.empty()) n->depth = 1;
  n->items = std::move(items);
  return PyValue(n);
}

PyValue PyValue::tuple(Items items) {
  PyValue v = list(std::move(items));
  v.node_->kind = Kind::Tuple;
  return v;
}

PyValue PyValue::dict() {
  auto n = std::make_shared<Node>();
  n->kind = Kind::Dict;
  n->depth = 1;
  return PyValue(n);
}

PyValue PyValue::tensor(TensorDesc desc) {
  auto n = std::make_shared<Node>();
  n->kind = Kind::Tensor;
  n->tensor = std::move(desc);
  return PyValue(n);
}

PyValue PyValue::storage(StorageRef ref) {
  auto n = std::make_shared<Node>();
  n->kind = Kind::Storage;
  n->storage = std::move(ref);
  return PyValue(n);
}

PyValue PyValue::global(const std::string& dotted_name) {
  auto n = std::make_shared<Node>();
  n->kind = Kind::Global;
  n->s = dotted_name;
  return PyValue(n);
}

PyValue PyValue::opaque(const std::string& class_name, PyValue args) {
  auto n = std::make_shared<Node>();
  n->kind = Kind::Opaque;
  n->s = class_name;
  n->depth = args.depth() + 1;
  n->args = std::make_unique<PyValue>(std::move(args));
  return PyValue(n);
}

PyValue::Kind PyValue::kind() const { return node_->kind; }

const char* PyValue::kind_name() const {
  switch (kind()) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Dict: return "dict";
    case Kind::Tensor: return "tensor";
    case Kind::Storage: return "storage";
    case Kind::Global: return "global";
    case Kind::Opaque: return "opaque";
  }
  return "?";
}

bool PyValue::is_big_int() const { return kind() == Kind::Int && node_->big; }

bool PyValue::as_bool() const {
  if (!is_bool()) fail("expected a bool, got ", kind_name());
  return node_->b;
}

int64_t PyValue::as_int() const {
  if (is_bool()) return node_->i;
  if (!is_int()) fail("expected an int, got ", kind_name());
  if (node_->big) fail("int ", node_->s, " does not fit 64 bits");
  return node_->i;
}

double PyValue::as_float() const {
  if (is_float()) return node_->f;
  if (is_int() && node_->big) return std::strtod(node_->s.c_str(), nullptr);
  if (is_int() || is_bool()) return static_cast<double>(node_->i);
  fail("expected a float, got ", kind_name());
}

const std::string& PyValue::as_str() const {
  if (!(is_str() || is_bytes() || is_global() || is_opaque() || is_big_int()))
    fail("expected a str, got ", kind_name());
  return node_->s;
}

const TensorDesc& PyValue::tensor_desc() const {
  if (!is_tensor()) fail("expected a tensor, got ", kind_name());
  return node_->tensor;
}

const StorageRef& PyValue::storage_ref() const {
  if (!is_storage()) fail("expected a storage, got ", kind_name());
  return node_->storage;
}

const std::any& PyValue::tensor_data() const { return node_->data; }

void PyValue::set_tensor_data(std::any data) const {
  if (!(is_tensor() || is_storage())) fail("tensor data for a ", kind_name());
  node_->data = std::move(data);
}

const PyValue::Items& PyValue::items() const {
  if (!(is_list() || is_tuple() || is_opaque())) fail("expected a list or tuple, got ", kind_name());
  return node_->items;
}

PyValue::Items& PyValue::mutable_items() {
  if (!(is_list() || is_tuple() || is_opaque())) fail("expected a list or tuple, got ", kind_name());
  return node_->items;
}

void PyValue::append(const PyValue& v) {
  if (!(is_list() || is_opaque())) fail("cannot append to a ", kind_name());
  node_->items.push_back(v);
  node_->depth = std::max(node_->depth, v.depth() + 1);
}

const PyValue::DictItems& PyValue::dict_items() const {
  if (!(is_dict() || is_opaque())) fail("expected a dict, got ", kind_name());
  return node_->dict;
}

void PyValue::dict_set(const PyValue& key, const PyValue& value) {
  if (!(is_dict() || is_opaque())) fail("expected a dict, got ", kind_name());
  Node& n = *node_;
  n.depth = std::max(n.depth, std::max(key.depth(), value.depth()) + 1);
  std::string sig = key_signature(key);
  if (!sig.empty()) {
    auto it = n.index.find(sig);
    if (it != n.index.end()) {
      n.dict[it->second].second = value;
      return;
    }
    n.index.emplace(sig, n.dict.size());
  }
  n.dict.emplace_back(key, value);
}

const PyValue* PyValue::get(const std::string& key) const { return get(PyValue::str(key)); }

const PyValue* PyValue::get(const PyValue& key) const {
  if (!(is_dict() || is_opaque())) return nullptr;
  std::string sig = key_signature(key);
  if (sig.empty()) return nullptr;
  auto it = node_->index.find(sig);
  return it == node_->index.end() ? nullptr : &node_->dict[it->second].second;
}

static const PyValue& none_value() {
  static const PyValue kNone;
  return kNone;
}
const PyValue& PyValue::opaque_args() const { return node_->args ? *node_->args : none_value(); }
const PyValue& PyValue::opaque_state() const { return node_->state ? *node_->state : none_value(); }

void PyValue::set_opaque_state(const PyValue& state) {
  if (!is_opaque()) fail("expected an opaque object, got ", kind_name());
  node_->state = std::make_unique<PyValue>(state);
  node_->depth = std::max(node_->depth, state.depth() + 1);
}

size_t PyValue::size() const {
  switch (kind()) {
    case Kind::List:
    case Kind::Tuple: return node_->items.size();
    case Kind::Dict: return node_->dict.size();
    case Kind::Opaque: return node_->items.size() + node_->dict.size() + opaque_args().size() + 1;
    default: return 0;
  }
}

int PyValue::depth() const { return node_->depth; }

std::string PyValue::repr(int max_depth, size_t max_items) const {
  std::ostringstream os;
  repr_to(*this, os, max_depth, max_items);
  return os.str();
}

}  // namespace instseg
