#include "instseg/checkpoint/pth_writer.h"

#include "instseg/checkpoint/dtype.h"
#include "instseg/checkpoint/tensor_value.h"
#include "instseg/core/atomic_file.h"
#include "instseg/core/check.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <map>

namespace instseg {
namespace {

class Pickler {
 public:
  explicit Pickler(std::vector<at::Tensor>* storages) : storages_(storages) {}

  std::string run(const PyValue& root) {
    out_ += "\x80\x02";  // PROTO 2, what torch.save uses
    write(root);
    out_ += '.';
    return std::move(out_);
  }

 private:
  void op(char c) { out_ += c; }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  void unicode(const std::string& utf8) {
    op('X');
    u32(static_cast<uint32_t>(utf8.size()));
    out_ += utf8;
  }
  void global(const std::string& dotted) {
    size_t dot = dotted.rfind('.');
    if (dot == std::string::npos) fail("cannot pickle global '", dotted, "' without a module");
    out_ += 'c' + dotted.substr(0, dot) + '\n' + dotted.substr(dot + 1) + '\n';
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      op('K');
      out_ += static_cast<char>(v);
    } else if (v >= 0 && v < 65536) {
      op('M');
      out_ += static_cast<char>(v & 0xff);
      out_ += static_cast<char>(v >> 8);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');
      u32(static_cast<uint32_t>(static_cast<int32_t>(v)));
    } else {  // LONG1 with 8 bytes of two's complement
      op('\x8a');
      out_ += static_cast<char>(8);
      for (int i = 0; i < 8; ++i) out_ += static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff);
    }
  }
  void tuple_of(const std::vector<int64_t>& v) {
    op('(');
    for (int64_t x : v) integer(x);
    op('t');
  }
  // Python pickles bytes at protocol 2 as _codecs.encode('<latin-1 text>', 'latin1').
  void bytes(const std::string& raw) {
    std::string utf8;
    for (unsigned char c : raw) {
      if (c < 0x80) {
        utf8 += static_cast<char>(c);
      } else {
        utf8 += static_cast<char>(0xc0 | (c >> 6));
        utf8 += static_cast<char>(0x80 | (c & 0x3f));
      }
    }
    global("_codecs.encode");
    unicode(utf8);
    unicode("latin1");
    op('\x86');  // TUPLE2
    op('R');
  }
  void tensor(at::Tensor t) {
    if (!t.device().is_cpu()) t = t.cpu();
    if (t.is_sparse() || t.is_quantized()) fail("cannot save sparse or quantized tensors");
    size_t el = c10::elementSize(t.scalar_type());
    // One storage per (storage, dtype), so views of one storage stay views in the file.
    auto id = std::make_pair(static_cast<const void*>(t.storage().unsafeGetStorageImpl()), int(t.scalar_type()));
    auto it = keys_.find(id);
    if (it == keys_.end() && t.storage().nbytes() % el != 0) {
      t = t.clone(at::MemoryFormat::Contiguous);
      id.first = t.storage().unsafeGetStorageImpl();
    }
    if (it == keys_.end()) {
      int64_t numel = static_cast<int64_t>(t.storage().nbytes() / el);
      at::Tensor flat = at::empty({0}, t.options()).set_(t.storage(), 0, {numel}, {1});
      it = keys_.emplace(id, storages_->size()).first;
      storages_->push_back(flat);
    }
    const at::Tensor& flat = storages_->at(it->second);
    global("torch._utils._rebuild_tensor_v2");
    op('(');
    op('(');  // persistent id
    unicode("storage");
    const auto dtype = dtype_of(t.scalar_type());
    if (!dtype) fail("cannot save tensors of dtype ", dtype_name(t.scalar_type()));
    global(std::string("torch.") + storage_class_name(*dtype));
    unicode(std::to_string(it->second));
    unicode("cpu");
    integer(flat.numel());
    op('t');
    op('Q');  // BINPERSID
    integer(t.storage_offset());
    tuple_of(t.sizes().vec());
    tuple_of(t.strides().vec());
    op('\x89');  // requires_grad False
    global("collections.OrderedDict");  // backward_hooks = OrderedDict()
    op(')');
    op('R');
    op('t');
    op('R');
  }

  void write(const PyValue& v) {
    using K = PyValue::Kind;
    switch (v.kind()) {
      case K::None: op('N'); break;
      case K::Bool: op(v.as_bool() ? '\x88' : '\x89'); break;
      case K::Int:
        if (v.is_big_int()) {
          const std::string& s = v.as_str();
          if (s.empty() || s.find_first_not_of("-0123456789") != std::string::npos)
            fail("cannot pickle int ", s);
          out_ += 'L' + s + "L\n";
        } else {
          integer(v.as_int());
        }
        break;
      case K::Float: {
        op('G');
        double d = v.as_float();
        uint64_t bits;
        std::memcpy(&bits, &d, 8);
        for (int i = 7; i >= 0; --i) out_ += static_cast<char>((bits >> (8 * i)) & 0xff);
        break;
      }
      case K::Str: unicode(v.as_str()); break;
      case K::Bytes: bytes(v.as_str()); break;
      case K::List:
        op(']');
        if (!v.items().empty()) {
          op('(');
          for (const auto& e : v.items()) write(e);
          op('e');
        }
        break;
      case K::Tuple:
        if (v.items().empty()) {
          op(')');
        } else {
          op('(');
          for (const auto& e : v.items()) write(e);
          op('t');
        }
        break;
      case K::Dict:
        op('}');
        if (!v.dict_items().empty()) {
          op('(');
          for (const auto& kv : v.dict_items()) {
            write(kv.first);
            write(kv.second);
          }
          op('u');
        }
        break;
      case K::Tensor: tensor(as_tensor(v)); break;
      case K::Storage: fail("cannot pickle a bare storage");
      case K::Global: global(v.as_str()); break;
      case K::Opaque: {
        // Re-emit as the call that made it: cls(*args), then BUILD state and any items.
        const std::string& cls = v.as_str();
        global(cls);
        if (cls == "builtins.set" || cls == "builtins.frozenset") {
          write(PyValue::tuple({PyValue::list(v.items())}));
          op('R');
          break;
        }
        write(v.opaque_args().is_tuple() ? v.opaque_args() : PyValue::tuple());
        op('R');
        if (!v.items().empty()) {
          op('(');
          for (const auto& e : v.items()) write(e);
          op('e');
        }
        if (!v.dict_items().empty()) {
          op('(');
          for (const auto& kv : v.dict_items()) {
            write(kv.first);
            write(kv.second);
          }
          op('u');
        }
        if (!v.opaque_state().is_none()) {
          write(v.opaque_state());
          op('b');
        }
        break;
      }
    }
  }

  std::vector<at::Tensor>* storages_;
  std::map<std::pair<const void*, int>, size_t> keys_;
  std::string out_;
};

}  // namespace

std::string pickle_value(const PyValue& root, std::vector<at::Tensor>* storages) {
  return Pickler(storages).run(root);
}

void write_pth(const std::string& path, const PyValue& root) {
  std::vector<at::Tensor> storages;
  std::string pkl;
  try {
    pkl = pickle_value(root, &storages);
  } catch (const std::exception& e) {
    throw Error(path + ": " + error_message(e));
  }
  try {
    AtomicFile file(path);
    // The sink always reports success: PyTorchStreamWriter throws on a short
    // write and then throws again from its destructor (std::terminate). The
    // first failure is kept by AtomicFile, the remaining records are skipped
    // and commit() reports it.
    auto sink = [&](const void* buf, size_t n) -> size_t {
      file.write(buf, n);
      return n;
    };
    {
      caffe2::serialize::PyTorchStreamWriter writer(sink);
      writer.writeRecord("data.pkl", pkl.data(), pkl.size());
      writer.writeRecord("byteorder", "little", 6);
      for (size_t i = 0; i < storages.size() && !file.failed(); ++i) {
        const at::Tensor& s = storages[i];
        writer.writeRecord("data/" + std::to_string(i), s.storage().data_ptr().get(), s.storage().nbytes());
      }
      writer.writeEndOfFile();
    }
    file.commit();
  } catch (const Error&) {
    throw;  // AtomicFile's messages name the file
  } catch (const std::exception& e) {
    throw Error(path + ": " + error_message(e));
  }
}

PyValue state_dict_value(const TensorDict& state_dict) {
  PyValue d = PyValue::dict();
  for (const auto& kv : state_dict) d.dict_set(PyValue::str(kv.first), tensor_value(kv.second));
  return d;
}

void save_checkpoint(const std::string& path, const PyValue& meta, const TensorDict& state_dict,
                     const std::vector<std::pair<std::string, PyValue>>& extra) {
  PyValue root = PyValue::dict();
  root.dict_set(PyValue::str("meta"), meta);
  root.dict_set(PyValue::str("state_dict"), state_dict_value(state_dict));
  for (const auto& kv : extra) root.dict_set(PyValue::str(kv.first), kv.second);
  write_pth(path, root);
}

}  // namespace instseg
