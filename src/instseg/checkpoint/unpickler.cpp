#include "instseg/checkpoint/unpickler.h"

#include "instseg/core/require.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace instseg {
namespace {

// Real checkpoints nest < 20 deep; deeper means a corrupted or hostile file.
constexpr int kMaxDepth = 256;

// True when some path from `root` through containers is longer than `limit`
// (iterative: the tree may be deep; a node is walked again only when reached
// deeper than before, so shared subtrees cost at most `limit` walks).
bool nested_deeper_than(const PyValue& root, int limit) {
  std::unordered_map<const void*, int> best;
  std::vector<std::pair<const PyValue*, int>> todo{{&root, 1}};
  while (!todo.empty()) {
    const auto [v, d] = todo.back();
    todo.pop_back();
    if (!v->is_container()) continue;
    if (d > limit) return true;
    int& b = best[v->id()];
    if (b >= d) continue;
    b = d;
    v->for_each_child([&, d = d](const PyValue& c) { todo.emplace_back(&c, d + 1); });
  }
  return false;
}

// An error that already carries its byte offset (not wrapped again).
struct OffsetError : Error {
  using Error::Error;
};

// Little-endian two's complement bytes -> decimal text (for ints wider than 64 bits).
std::string long_to_decimal(const unsigned char* p, size_t n) {
  if (n > 64) return "<" + std::to_string(n) + "-byte int>";
  std::vector<unsigned> mag(p, p + n);
  bool neg = n > 0 && (p[n - 1] & 0x80);
  if (neg) {  // magnitude = ~x + 1
    unsigned carry = 1;
    for (auto& b : mag) {
      unsigned v = (~b & 0xffu) + carry;
      b = v & 0xffu;
      carry = v >> 8;
    }
  }
  std::string digits;
  bool nonzero = true;
  while (nonzero) {
    unsigned rem = 0;
    nonzero = false;
    for (size_t i = mag.size(); i-- > 0;) {
      unsigned cur = (rem << 8) | mag[i];
      mag[i] = cur / 10;
      rem = cur % 10;
      if (mag[i]) nonzero = true;
    }
    digits.push_back(static_cast<char>('0' + rem));
  }
  if (neg) digits.push_back('-');
  return std::string(digits.rbegin(), digits.rend());
}

PyValue decode_long(const unsigned char* p, size_t n) {
  if (n == 0) return PyValue::from_int(0);
  if (n <= 8) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    if (n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t(0) << (8 * n);  // sign-extend
    return PyValue::from_int(static_cast<int64_t>(v));
  }
  return PyValue::big_int(long_to_decimal(p, n));
}

// UTF-8 text whose code points are all < 256 -> those bytes (Python's str.encode('latin1')).
std::string utf8_to_latin1(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      i += 1;
    } else if ((c & 0xe0) == 0xc0 && i + 1 < s.size()) {
      unsigned cp = ((c & 0x1fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3fu);
      if (cp > 0xff) fail("_codecs.encode: character U+", cp, " is not latin-1");
      out.push_back(static_cast<char>(cp));
      i += 2;
    } else {
      fail("_codecs.encode: text is not latin-1");
    }
  }
  return out;
}

std::vector<int64_t> int_list(const PyValue& v, const char* what) {
  if (!(v.is_tuple() || v.is_list())) fail(what, " must be a tuple, got ", v.kind_name());
  std::vector<int64_t> out;
  for (const auto& e : v.items()) out.push_back(e.as_int());
  return out;
}

const PyValue& arg(const PyValue& args, size_t i, const std::string& fn) {
  if (!args.is_tuple() || args.items().size() <= i)
    fail(fn, ": expected at least ", i + 1, " arguments, got ", args.is_tuple() ? args.items().size() : 0);
  return args.items()[i];
}

// Applies a callable global to its arguments (REDUCE / NEWOBJ).
PyValue call_global(const PyValue& callable, const PyValue& args) {
  if (!callable.is_global()) fail("cannot call a ", callable.kind_name());
  const std::string& fn = callable.as_str();
  if (fn == "collections.OrderedDict" || fn == "builtins.dict") {
    PyValue d = PyValue::dict();
    if (args.is_tuple() && !args.items().empty() && args.items()[0].is_list()) {
      for (const auto& kv : args.items()[0].items())
        if (kv.is_tuple() && kv.items().size() == 2) d.dict_set(kv.items()[0], kv.items()[1]);
    }
    return d;
  }
  if (fn == "torch._utils._rebuild_tensor_v2" || fn == "torch._utils._rebuild_tensor" ||
      fn == "torch._utils._rebuild_tensor_v3") {
    // (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, dtype], metadata])
    TensorDesc t = rebuild_tensor(arg(args, 0, fn), arg(args, 1, fn).as_int(), arg(args, 2, fn), arg(args, 3, fn));
    if (fn == "torch._utils._rebuild_tensor_v3") {
      const PyValue& dt = arg(args, 6, fn);
      if (!dt.is_global()) fail(fn, ": dtype must be a torch dtype, got ", dt.kind_name());
      const DType want = torch_dtype(dt.as_str());
      if (want != t.dtype) {
        // The whole storage seen as `want` (torch 2.x storages are untyped).
        StorageRef retyped = arg(args, 0, fn).storage_ref();
        retyped.dtype = want;
        retyped.offset = 0;
        retyped.numel = static_cast<int64_t>(retyped.storage_nbytes / element_size(want));
        t = rebuild_tensor(PyValue::storage(retyped), arg(args, 1, fn).as_int(), arg(args, 2, fn), arg(args, 3, fn));
      }
    }
    return PyValue::tensor(std::move(t));
  }
  if (fn == "torch._utils._rebuild_parameter" || fn == "torch._utils._rebuild_parameter_with_state") {
    const PyValue& data = arg(args, 0, fn);
    if (!data.is_tensor()) fail(fn, ": expected a tensor, got ", data.kind_name());
    return data;
  }
  if (fn == "_codecs.encode") {
    const PyValue& text = arg(args, 0, fn);
    std::string enc = args.items().size() > 1 ? arg(args, 1, fn).as_str() : "utf-8";
    if (enc == "latin1" || enc == "latin-1" || enc == "iso-8859-1") return PyValue::bytes(utf8_to_latin1(text.as_str()));
    return PyValue::bytes(text.as_str());
  }
  if (fn == "torch.Size") return PyValue::tuple(arg(args, 0, fn).items());
  if (fn == "copyreg._reconstructor" && args.is_tuple() && !args.items().empty() && args.items()[0].is_global())
    return PyValue::opaque(args.items()[0].as_str(), args);
  return PyValue::opaque(fn, args.is_tuple() ? args : PyValue::tuple({args}));
}

}  // namespace

TensorDesc rebuild_tensor(const PyValue& storage, int64_t offset, const PyValue& size, const PyValue& stride) {
  if (!storage.is_storage()) fail("tensor data must be a storage, got ", storage.kind_name());
  const StorageRef& flat = storage.storage_ref();
  std::vector<int64_t> sizes = int_list(size, "tensor size"), strides = int_list(stride, "tensor stride");
  if (sizes.size() != strides.size())
    fail("tensor size has ", sizes.size(), " dims but stride has ", strides.size());
  if (offset < 0) fail("negative storage offset ", offset);
  // Last element reached = offset + sum((size - 1) * stride); must stay inside the storage.
  int64_t numel = 1, last = offset;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] < 0 || strides[d] < 0) fail("negative tensor size or stride");
    if (__builtin_mul_overflow(numel, sizes[d], &numel)) fail("tensor size overflows");
    int64_t reach = 0;
    if (sizes[d] > 0 && (__builtin_mul_overflow(sizes[d] - 1, strides[d], &reach) ||
                         __builtin_add_overflow(last, reach, &last)))
      fail("tensor extent overflows");
  }
  const int64_t storage_numel = flat.numel;
  if (numel > 0 && last >= storage_numel)
    fail("tensor view (offset ", offset, ", sizes ", size.repr(), ", strides ", stride.repr(),
         ") reaches element ", last, " of a storage of ", storage_numel);
  if (numel == 0 && offset > storage_numel) fail("storage offset ", offset, " beyond a storage of ", storage_numel);
  TensorDesc t;
  t.storage_key = flat.key;
  t.dtype = flat.dtype;
  t.offset = flat.offset + offset;
  t.sizes = std::move(sizes);
  t.strides = std::move(strides);
  return t;
}

Unpickler::Unpickler(const char* data, size_t size, uint64_t base_offset, PersistentLoad persistent_load)
    : data_(data), size_(size), base_(base_offset), persistent_load_(std::move(persistent_load)) {}

PyValue Unpickler::load(size_t start) {
  pos_ = start;
  std::vector<PyValue> stack;
  std::vector<size_t> marks;
  std::unordered_map<uint64_t, PyValue> memo;
  size_t op_pos = pos_;

  auto here = [&]() { return base_ + op_pos; };
  auto need = [&](size_t n) {
    if (n > size_ - pos_) fail("truncated pickle: needs ", n, " more bytes, ", size_ - pos_, " left");
  };
  auto u8 = [&]() -> unsigned {
    need(1);
    return static_cast<unsigned char>(data_[pos_++]);
  };
  auto uint_le = [&](int bytes) -> uint64_t {
    need(bytes);
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
    pos_ += bytes;
    return v;
  };
  auto raw = [&](uint64_t n) -> std::string {
    if (n > size_ - pos_) fail("truncated pickle: a string of ", n, " bytes, ", size_ - pos_, " left");
    std::string s(data_ + pos_, n);
    pos_ += n;
    return s;
  };
  auto line = [&]() -> std::string {
    const void* nl = std::memchr(data_ + pos_, '\n', size_ - pos_);
    if (!nl) fail("truncated pickle: unterminated text argument");
    size_t n = static_cast<const char*>(nl) - (data_ + pos_);
    std::string s(data_ + pos_, n);
    pos_ += n + 1;
    return s;
  };
  auto pop = [&]() -> PyValue {
    if (stack.empty() || (!marks.empty() && marks.back() == stack.size())) fail("stack underflow");
    PyValue v = stack.back();
    stack.pop_back();
    return v;
  };
  auto top = [&]() -> PyValue& {
    if (stack.empty() || (!marks.empty() && marks.back() == stack.size())) fail("stack underflow");
    return stack.back();
  };
  auto pop_mark = [&]() -> std::vector<PyValue> {
    if (marks.empty()) fail("MARK expected");
    size_t m = marks.back();
    marks.pop_back();
    std::vector<PyValue> items(stack.begin() + m, stack.end());
    stack.resize(m);
    return items;
  };
  auto push = [&](PyValue v) {
    if (v.depth() > kMaxDepth) fail("values nested deeper than ", kMaxDepth);
    stack.push_back(std::move(v));
  };
  auto memo_get = [&](uint64_t idx) {
    auto it = memo.find(idx);
    if (it == memo.end()) fail("memo key ", idx, " not defined");
    push(it->second);
  };
  auto memo_put = [&](uint64_t idx) { memo[idx] = top(); };
  // Values are shared handles, so a pickle could build a cycle (a list that
  // contains itself, directly or through another container): a memory leak
  // and endless recursion for every walker of the tree. torch.save never
  // writes one, so a mutation that would close a cycle (the target reachable
  // from a value put into it) is refused. The walk skips nodes it has seen,
  // so shared subtrees cost once per mutation.
  auto reaches = [&](const PyValue& from, const void* target) {
    std::vector<const PyValue*> todo{&from};
    std::unordered_set<const void*> seen;
    while (!todo.empty()) {
      const PyValue* v = todo.back();
      todo.pop_back();
      if (!v->is_container()) continue;
      if (v->id() == target) return true;
      if (!seen.insert(v->id()).second) continue;
      v->for_each_child([&](const PyValue& c) { todo.push_back(&c); });
    }
    return false;
  };
  auto check_mutable = [&](const PyValue& target, const std::vector<PyValue>& incoming) {
    for (const auto& v : incoming)
      if (reaches(v, target.id()))
        fail("a ", target.kind_name(), " would contain itself (a recursive structure; torch.save does not write these)");
  };
  auto set_items = [&](PyValue& target, const std::vector<PyValue>& kv) {
    if (kv.size() % 2) fail("odd number of items for SETITEMS");
    if (!(target.is_dict() || target.is_opaque())) fail("SETITEM(S) on a ", target.kind_name());
    check_mutable(target, kv);
    for (size_t i = 0; i < kv.size(); i += 2) target.dict_set(kv[i], kv[i + 1]);
    if (target.depth() > kMaxDepth) fail("values nested deeper than ", kMaxDepth);
  };
  auto append_items = [&](PyValue& target, const std::vector<PyValue>& items) {
    if (!(target.is_list() || target.is_opaque())) fail("APPEND(S) on a ", target.kind_name());
    check_mutable(target, items);
    for (const auto& v : items) target.append(v);
    if (target.depth() > kMaxDepth) fail("values nested deeper than ", kMaxDepth);
  };
  auto persistent = [&](const PyValue& pid) {
    if (!persistent_load_) fail("persistent id without a persistent_load handler");
    push(persistent_load_(pid));
  };

  try {
    while (true) {
      op_pos = pos_;
      unsigned op = u8();
      switch (op) {
        case 0x80: {  // PROTO
          unsigned proto = u8();
          if (proto > 5) fail("unsupported pickle protocol ", proto);
          break;
        }
        case 0x95: uint_le(8); break;  // FRAME: frames are contiguous, nothing to do
        case '.': {                     // STOP
          PyValue v = pop();
          // A container filled after it was put into another one leaves the
          // outer one's recorded depth stale: check the real nesting once.
          if (nested_deeper_than(v, kMaxDepth)) fail("values nested deeper than ", kMaxDepth);
          return v;
        }
        case '(': marks.push_back(stack.size()); break;  // MARK
        case '0':                                         // POP
          if (!marks.empty() && marks.back() == stack.size()) marks.pop_back();
          else pop();
          break;
        case '1': pop_mark(); break;           // POP_MARK
        case '2': push(top()); break;          // DUP
        case 'N': push(PyValue::none()); break;
        case 0x88: push(PyValue::from_bool(true)); break;
        case 0x89: push(PyValue::from_bool(false)); break;
        case 'J': push(PyValue::from_int(static_cast<int32_t>(uint_le(4)))); break;  // BININT
        case 'K': push(PyValue::from_int(static_cast<int64_t>(uint_le(1)))); break;  // BININT1
        case 'M': push(PyValue::from_int(static_cast<int64_t>(uint_le(2)))); break;  // BININT2
        case 0x8a:                                                                    // LONG1
        case 0x8b: {                                                                  // LONG4
          uint64_t n = uint_le(op == 0x8a ? 1 : 4);
          if (n > size_ - pos_) fail("truncated pickle: a long of ", n, " bytes");
          push(decode_long(reinterpret_cast<const unsigned char*>(data_ + pos_), n));
          pos_ += n;
          break;
        }
        case 'I':    // INT (text)
        case 'L': {  // LONG (text)
          std::string s = line();
          if (op == 'I' && s == "01") {
            push(PyValue::from_bool(true));
          } else if (op == 'I' && s == "00") {
            push(PyValue::from_bool(false));
          } else {
            if (!s.empty() && s.back() == 'L') s.pop_back();
            errno = 0;
            char* end = nullptr;
            long long v = std::strtoll(s.c_str(), &end, 10);
            if (s.empty() || *end != '\0') fail("bad integer text '", s, "'");
            push(errno == ERANGE ? PyValue::big_int(s) : PyValue::from_int(v));
          }
          break;
        }
        case 'F': {  // FLOAT (text)
          std::string s = line();
          char* end = nullptr;
          double v = std::strtod(s.c_str(), &end);
          if (s.empty() || *end != '\0') fail("bad float text '", s, "'");
          push(PyValue::from_float(v));
          break;
        }
        case 'G': {  // BINFLOAT: big-endian double
          need(8);
          uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<unsigned char>(data_[pos_ + i]);
          pos_ += 8;
          double v;
          std::memcpy(&v, &bits, 8);
          push(PyValue::from_float(v));
          break;
        }
        case 'X': push(PyValue::str(raw(uint_le(4)))); break;     // BINUNICODE
        case 0x8c: push(PyValue::str(raw(uint_le(1)))); break;    // SHORT_BINUNICODE
        case 0x8d: push(PyValue::str(raw(uint_le(8)))); break;    // BINUNICODE8
        case 'V': push(PyValue::str(line())); break;              // UNICODE (raw-unicode-escape; ASCII kept)
        case 'T': push(PyValue::str(raw(uint_le(4)))); break;     // BINSTRING (py2 str)
        case 'U': push(PyValue::str(raw(uint_le(1)))); break;     // SHORT_BINSTRING
        case 'S': {                                               // STRING (quoted repr)
          std::string s = line();
          if (s.size() >= 2 && (s[0] == '\'' || s[0] == '"') && s.back() == s[0]) s = s.substr(1, s.size() - 2);
          push(PyValue::str(s));
          break;
        }
        case 'B': push(PyValue::bytes(raw(uint_le(4)))); break;   // BINBYTES
        case 'C': push(PyValue::bytes(raw(uint_le(1)))); break;   // SHORT_BINBYTES
        case 0x8e:                                                // BINBYTES8
        case 0x96: push(PyValue::bytes(raw(uint_le(8)))); break;  // BYTEARRAY8
        case ']': push(PyValue::list()); break;                   // EMPTY_LIST
        case ')': push(PyValue::tuple()); break;                  // EMPTY_TUPLE
        case '}': push(PyValue::dict()); break;                   // EMPTY_DICT
        case 'l': push(PyValue::list(pop_mark())); break;   // LIST
        case 't': push(PyValue::tuple(pop_mark())); break;  // TUPLE
        case 0x85: {                                                    // TUPLE1
          PyValue a = pop();
          push(PyValue::tuple({a}));
          break;
        }
        case 0x86: {  // TUPLE2
          PyValue b = pop(), a = pop();
          push(PyValue::tuple({a, b}));
          break;
        }
        case 0x87: {  // TUPLE3
          PyValue c = pop(), b = pop(), a = pop();
          push(PyValue::tuple({a, b, c}));
          break;
        }
        case 'd': {  // DICT
          auto kv = pop_mark();
          PyValue d = PyValue::dict();
          set_items(d, kv);
          push(d);
          break;
        }
        case 'a': {  // APPEND
          PyValue v = pop();
          append_items(top(), {v});
          break;
        }
        case 'e': {  // APPENDS
          auto items = pop_mark();
          append_items(top(), items);
          break;
        }
        case 's': {  // SETITEM
          PyValue v = pop(), k = pop();
          set_items(top(), {k, v});
          break;
        }
        case 'u': {  // SETITEMS
          auto kv = pop_mark();
          set_items(top(), kv);
          break;
        }
        case 0x8f: push(PyValue::opaque("builtins.set", PyValue::tuple())); break;  // EMPTY_SET
        case 0x90: {                                                                  // ADDITEMS
          auto items = pop_mark();
          append_items(top(), items);
          break;
        }
        case 0x91: {  // FROZENSET
          PyValue s = PyValue::opaque("builtins.frozenset", PyValue::tuple());
          append_items(s, pop_mark());
          push(s);
          break;
        }
        case 'c': {  // GLOBAL
          std::string module = line();
          std::string name = line();
          if (module == "__builtin__") module = "builtins";
          if (module == "copy_reg") module = "copyreg";
          push(PyValue::global(module + "." + name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          PyValue name = pop(), module = pop();
          if (!name.is_str() || !module.is_str()) fail("STACK_GLOBAL needs two str");
          push(PyValue::global(module.as_str() + "." + name.as_str()));
          break;
        }
        case 'R': {  // REDUCE
          PyValue args = pop(), fn = pop();
          push(call_global(fn, args));
          break;
        }
        case 0x81: {  // NEWOBJ
          PyValue args = pop(), cls = pop();
          push(call_global(cls, args));
          break;
        }
        case 0x92: {  // NEWOBJ_EX (kwargs dropped)
          pop();
          PyValue args = pop(), cls = pop();
          push(call_global(cls, args));
          break;
        }
        case 'i': {  // INST
          std::string module = line();
          std::string name = line();
          push(call_global(PyValue::global(module + "." + name), PyValue::tuple(pop_mark())));
          break;
        }
        case 'o': {  // OBJ
          auto items = pop_mark();
          if (items.empty()) fail("OBJ without a class");
          PyValue cls = items.front();
          items.erase(items.begin());
          push(call_global(cls, PyValue::tuple(items)));
          break;
        }
        case 'b': {  // BUILD: state goes to opaque objects; dicts (OrderedDict _metadata) and tensors ignore it
          PyValue state = pop();
          PyValue& target = top();
          if (target.is_opaque()) {
            check_mutable(target, {state});
            target.set_opaque_state(state);
          }
          if (target.depth() > kMaxDepth) fail("values nested deeper than ", kMaxDepth);
          break;
        }
        case 'p': memo_put(std::strtoull(line().c_str(), nullptr, 10)); break;  // PUT
        case 'q': memo_put(uint_le(1)); break;                                   // BINPUT
        case 'r': memo_put(uint_le(4)); break;                                   // LONG_BINPUT
        case 0x94: memo_put(memo.size()); break;                                 // MEMOIZE
        case 'g': memo_get(std::strtoull(line().c_str(), nullptr, 10)); break;  // GET
        case 'h': memo_get(uint_le(1)); break;                                   // BINGET
        case 'j': memo_get(uint_le(4)); break;                                   // LONG_BINGET
        case 'Q': persistent(pop()); break;                                      // BINPERSID
        case 'P': persistent(PyValue::str(line())); break;                      // PERSID
        default: {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "0x%02x", op);
          fail("unknown or unsupported pickle opcode ", buf);
        }
      }
    }
  } catch (const OffsetError&) {
    throw;
  } catch (const std::exception& e) {
    throw OffsetError(str_cat(e.what(), " at byte ", here()));
  }
}

}  // namespace instseg
