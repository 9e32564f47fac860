// A Python value tree: what a `.pth` pickle decodes to, and what our writer
// pickles. Values are shared handles (copying a PyValue aliases the same node),
// because pickles alias objects through the memo and mutate them afterwards
// (SETITEMS into a dict that is already inside another container).
//
// Kinds: None, bool, int (int64; Python ints beyond 64 bits keep their decimal
// text), float (double), str (UTF-8), bytes, list, tuple, dict (insertion
// ORDERED, keys are PyValues, usually str), tensor (a TensorDesc: which storage
// of the file, dtype, sizes, strides, offset), storage (the internal result of
// a persistent id: a StorageRef, a typed window on one storage of the file),
// global (a reference to a class/function "module.name") and opaque (an object
// of an unknown class: its global name, constructor args, BUILD state and any
// items appended/set on it). Unknown classes (numpy, mmengine) stay opaque so
// that loading never depends on knowing them.
//
// LibTorch-free (library instseg_pth): a tensor here is only its description,
// enough for `instseg inspect`. The LibTorch side (checkpoint/pth_reader.h)
// attaches each tensor's at::Tensor as the value's tensor data
// (checkpoint/tensor_value.h: as_tensor, tensor_value).
#pragma once
#include "instseg/checkpoint/dtype.h"

#include <any>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace instseg {

// A typed window on one storage of a file: `numel` elements of `dtype` from
// element `offset` (legacy storage views start inside their storage); the
// whole storage holds `storage_nbytes` bytes.
struct StorageRef {
  std::string key;
  DType dtype = DType::uint8;
  int64_t offset = 0;
  int64_t numel = 0;
  uint64_t storage_nbytes = 0;
};

// A tensor as torch._utils._rebuild_tensor makes it: a strided view of a storage.
struct TensorDesc {
  std::string storage_key;  // the file's storage key; empty for tensors made in memory
  DType dtype = DType::float32;
  int64_t offset = 0;  // in elements of dtype from the storage's start
  std::vector<int64_t> sizes, strides;
  int64_t numel() const;
};

class PyValue {
 public:
  enum class Kind { None, Bool, Int, Float, Str, Bytes, List, Tuple, Dict, Tensor, Storage, Global, Opaque };
  using Items = std::vector<PyValue>;
  using DictItems = std::vector<std::pair<PyValue, PyValue>>;

  PyValue();  // None
  static PyValue none();
  static PyValue from_bool(bool v);
  static PyValue from_int(int64_t v);
  // A Python int that does not fit int64: kept as decimal text (kind Int, is_big_int()).
  static PyValue big_int(const std::string& decimal);
  static PyValue from_float(double v);
  static PyValue str(const std::string& utf8);
  static PyValue bytes(const std::string& raw);
  static PyValue list(Items items = {});
  static PyValue tuple(Items items = {});
  static PyValue dict();
  static PyValue tensor(TensorDesc desc);
  static PyValue storage(StorageRef ref);
  static PyValue global(const std::string& dotted_name);
  static PyValue opaque(const std::string& class_name, PyValue args);

  Kind kind() const;
  const char* kind_name() const;
  bool is_none() const { return kind() == Kind::None; }
  bool is_bool() const { return kind() == Kind::Bool; }
  bool is_int() const { return kind() == Kind::Int; }
  bool is_big_int() const;
  bool is_float() const { return kind() == Kind::Float; }
  bool is_str() const { return kind() == Kind::Str; }
  bool is_bytes() const { return kind() == Kind::Bytes; }
  bool is_list() const { return kind() == Kind::List; }
  bool is_tuple() const { return kind() == Kind::Tuple; }
  bool is_dict() const { return kind() == Kind::Dict; }
  bool is_tensor() const { return kind() == Kind::Tensor; }
  bool is_storage() const { return kind() == Kind::Storage; }
  bool is_global() const { return kind() == Kind::Global; }
  bool is_opaque() const { return kind() == Kind::Opaque; }

  // Accessors throw instseg::Error naming the actual kind on a mismatch.
  bool as_bool() const;
  int64_t as_int() const;     // also accepts bool; a big int throws
  double as_float() const;    // also accepts int and bool
  const std::string& as_str() const;   // str or bytes; a big int's text; global/opaque name
  const TensorDesc& tensor_desc() const;  // tensor
  const StorageRef& storage_ref() const;   // storage

  // What the LibTorch side attaches to a tensor or storage value: its at::Tensor
  // (checkpoint/tensor_value.h); empty until then. Set on the shared node, so
  // every handle of the value sees it.
  const std::any& tensor_data() const;
  void set_tensor_data(std::any data) const;

  // list / tuple elements (also an opaque's appended items).
  const Items& items() const;
  Items& mutable_items();
  // Appends to a list (or an opaque's items), keeping depth() up to date.
  void append(const PyValue& v);

  // dict entries in insertion order (also an opaque's set items).
  const DictItems& dict_items() const;
  // Inserts or replaces (a replaced key keeps its position).
  void dict_set(const PyValue& key, const PyValue& value);
  // The value under a str key, or nullptr.
  const PyValue* get(const std::string& key) const;
  const PyValue* get(const PyValue& key) const;

  // Opaque objects: constructor args (a tuple) and BUILD state (None when never built).
  const PyValue& opaque_args() const;
  const PyValue& opaque_state() const;
  void set_opaque_state(const PyValue& state);

  // Calls f(child) for each value this one holds directly, in this order: list / tuple /
  // opaque items, dict (or opaque set-item) keys and values, key before value, then an
  // opaque's args and state. Nothing for scalars. The graph walks (cycle and depth checks,
  // tensor materialisation) share it.
  template <typename F>
  void for_each_child(F&& f) const {
    if (is_list() || is_tuple() || is_opaque())
      for (const auto& e : items()) f(e);
    if (is_dict() || is_opaque())
      for (const auto& kv : dict_items()) {
        f(kv.first);
        f(kv.second);
      }
    if (is_opaque()) {
      f(opaque_args());
      f(opaque_state());
    }
  }

  // Number of list/tuple/dict entries (0 for scalars).
  size_t size() const;
  // Nesting depth: 0 for scalars, 1 + deepest child for containers (tracked on construction
  // and insertion, used to refuse absurd nesting from corrupted files).
  int depth() const;
  // Same node (Python `is`).
  bool same(const PyValue& other) const { return node_ == other.node_; }
  // The node's identity (for sets of nodes, e.g. the unpickler's cycle check).
  const void* id() const { return node_.get(); }
  // list / tuple / dict / opaque: kinds that hold other values.
  bool is_container() const {
    const Kind k = kind();
    return k == Kind::List || k == Kind::Tuple || k == Kind::Dict || k == Kind::Opaque;
  }

  // Python-like repr, abbreviated: strings quoted, tensors as tensor(shape=[..], dtype=..),
  // opaque as <module.name ...>; nesting below max_depth and lists beyond max_items are elided.
  std::string repr(int max_depth = 8, size_t max_items = 64) const;

 private:
  struct Node;
  explicit PyValue(std::shared_ptr<Node> n);
  Node& node() const;
  std::shared_ptr<Node> node_;
};

}  // namespace instseg
