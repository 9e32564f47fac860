// Unpickler and PyValue on hand-made pickles (bytes produced offline with CPython's pickle).
#include "instseg/checkpoint/py_value.h"
#include "instseg/checkpoint/tensor_value.h"
#include "instseg/checkpoint/unpickler.h"
#include "instseg/core/check.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>

namespace instseg {
namespace {

using namespace std::string_literals;

std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

PyValue unpickle(const std::string& bytes, uint64_t base = 0) {
  Unpickler up(bytes.data(), bytes.size(), base);
  return up.load();
}

std::string unpickle_error_of(const std::string& bytes, uint64_t base = 0) {
  try {
    unpickle(bytes, base);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(PyValue, DictKeepsInsertionOrderAndReplacesInPlace) {
  PyValue d = PyValue::dict();
  d.dict_set(PyValue::str("b"), PyValue::from_int(1));
  d.dict_set(PyValue::str("a"), PyValue::from_int(2));
  d.dict_set(PyValue::str("b"), PyValue::from_int(3));
  d.dict_set(PyValue::from_int(1), PyValue::str("one"));
  d.dict_set(PyValue::from_bool(true), PyValue::str("true"));  // Python: True == 1, same key
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d.dict_items()[0].first.as_str(), "b");
  EXPECT_EQ(d.dict_items()[0].second.as_int(), 3);
  EXPECT_EQ(d.get("a")->as_int(), 2);
  EXPECT_EQ(d.get(PyValue::from_int(1))->as_str(), "true");
  EXPECT_EQ(d.get("missing"), nullptr);
  EXPECT_EQ(d.repr(), "{'b': 3, 'a': 2, 1: 'true'}");
  EXPECT_THROW(d.as_int(), Error);
}

TEST(PyValue, ReprLooksLikePython) {
  PyValue l = PyValue::list({PyValue::from_float(0.1), PyValue::from_float(2.0), PyValue::none(),
                             PyValue::tuple({PyValue::from_bool(false)}), PyValue::bytes(std::string("a\x00'\t", 4)),
                             PyValue::str("it's\n")});
  EXPECT_EQ(l.repr(), "[0.1, 2.0, None, (False,), b'a\\x00\\'\\t', 'it\\'s\\n']");
  EXPECT_EQ(l.depth(), 2);
  EXPECT_EQ(tensor_value(at::zeros({2, 3}, at::kHalf)).repr(), "tensor(shape=[2, 3], dtype=float16)");
}

TEST(Unpickler, Protocol4Opcodes) {
  // pickle.dumps({"a": [1, 2.5, "x", b"y", None, True, (1,2)], "big": 2**70, "neg": -300,
  //               "i2": 40000, "s": {3}}, protocol=4): FRAME, MEMOIZE, SHORT_BINUNICODE,
  // SHORT_BINBYTES, LONG1, BININT2, EMPTY_SET/ADDITEMS.
  PyValue v = unpickle(from_hex(
      "80049556000000000000007d94288c0161945d94284b014740040000000000008c017894430179944e884b014b028694658c0362"
      "6967948a090000000000000000408c036e6567944ad4feffff8c026932944d409c8c0173948f94284b0390752e"));
  ASSERT_TRUE(v.is_dict());
  EXPECT_EQ(v.repr(), "{'a': [1, 2.5, 'x', b'y', None, True, (1, 2)], 'big': 1180591620717411303424, "
                      "'neg': -300, 'i2': 40000, 's': <builtins.set items=[3]>}");
  EXPECT_TRUE(v.get("big")->is_big_int());
  EXPECT_EQ(v.get("neg")->as_int(), -300);
}

TEST(Unpickler, Protocol0TextOpcodes) {
  PyValue v = unpickle(
      "(dp0\nVa\np1\n(lp2\nI1\naF2.5\naVx\np3\naNaI01\na(I1\nI2\ntp4\nasVneg\np5\nI-300\nsVL\np6\nL1099511627776L\ns.");
  EXPECT_EQ(v.repr(), "{'a': [1, 2.5, 'x', None, True, (1, 2)], 'neg': -300, 'L': 1099511627776}");
}

TEST(Unpickler, SingleKeyDictUsesSetitem) {
  // pickle.dumps({'a': 1}, protocol=2) = PROTO EMPTY_DICT BINPUT BINUNICODE 'a' BINPUT BININT1 SETITEM STOP
  PyValue v = unpickle(from_hex("80027d710058010000006171014b01732e"));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v.get("a")->as_int(), 1);
}

TEST(Unpickler, OrderedDictAndUnknownGlobals) {
  // OrderedDict([('k', 1)]) with a BUILD of _metadata, then an unknown class via NEWOBJ + BUILD.
  std::string p = "\x80\x02";
  p += "ccollections\nOrderedDict\n)R(X\x01\x00\x00\x00kK\x01u}b"s;  // OrderedDict, SETITEMS, BUILD {}
  p += "cmmengine.logging.history_buffer\nHistoryBuffer\n)\x81}X\x01\x00\x00\x00nK\x02sb"s;
  p += "\x86.";  // TUPLE2 STOP
  PyValue v = unpickle(p);
  ASSERT_TRUE(v.is_tuple());
  EXPECT_TRUE(v.items()[0].is_dict());
  EXPECT_EQ(v.items()[0].get("k")->as_int(), 1);
  const PyValue& obj = v.items()[1];
  ASSERT_TRUE(obj.is_opaque());
  EXPECT_EQ(obj.as_str(), "mmengine.logging.history_buffer.HistoryBuffer");
  EXPECT_EQ(obj.opaque_state().get("n")->as_int(), 2);
}

TEST(Unpickler, RebuildTensorDescribesAViewInsideItsStorage) {
  // A window of 12 float32 from element 1 of storage '0' (a legacy storage view).
  StorageRef ref;
  ref.key = "0";
  ref.dtype = DType::float32;
  ref.offset = 1;
  ref.numel = 12;
  ref.storage_nbytes = 13 * 4;
  PyValue st = PyValue::storage(ref);
  EXPECT_EQ(st.repr(), "storage(shape=[12], dtype=float32)");
  TensorDesc t = rebuild_tensor(st, 2, PyValue::tuple({PyValue::from_int(2), PyValue::from_int(3)}),
                                PyValue::tuple({PyValue::from_int(1), PyValue::from_int(2)}));
  EXPECT_EQ(t.storage_key, "0");
  EXPECT_EQ(t.dtype, DType::float32);
  EXPECT_EQ(t.offset, 3);  // the window's 1 + the view's 2
  EXPECT_EQ(t.sizes, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t.strides, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(PyValue::tensor(t).repr(), "tensor(shape=[2, 3], dtype=float32)");
  // One element past the end: offset 2 + (2-1)*1 + (3-1)*5 = 13 > 11.
  EXPECT_THROW(rebuild_tensor(st, 2, PyValue::tuple({PyValue::from_int(2), PyValue::from_int(3)}),
                              PyValue::tuple({PyValue::from_int(1), PyValue::from_int(5)})),
               Error);
  EXPECT_THROW(rebuild_tensor(PyValue::from_int(3), 0, PyValue::tuple(), PyValue::tuple()), Error);
}

TEST(Unpickler, ErrorsNameTheByteOffset) {
  // Truncated inside BINUNICODE's payload: the opcode is at byte 3 of the buffer, base 1000.
  std::string e = unpickle_error_of(from_hex("80027d58050000006162"), 1000);
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  EXPECT_NE(e.find("at byte 1003"), std::string::npos) << e;
  e = unpickle_error_of("\x80\x02\xff.");
  EXPECT_NE(e.find("unknown or unsupported pickle opcode 0xff at byte 2"), std::string::npos) << e;
  e = unpickle_error_of("\x80\x02s.");  // SETITEM on an empty stack
  EXPECT_NE(e.find("stack underflow at byte 2"), std::string::npos) << e;
  e = unpickle_error_of("\x80\x02h\x05.");
  EXPECT_NE(e.find("memo key 5 not defined at byte 2"), std::string::npos) << e;
  e = unpickle_error_of("\x80\x02K\x01K\x01K\x02s.");  // SETITEM into an int
  EXPECT_NE(e.find("SETITEM(S) on a int"), std::string::npos) << e;
  e = unpickle_error_of("\x80\x02");  // no STOP
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  e = unpickle_error_of("\x80\x02Q.");  // BINPERSID without handler (and empty stack)
  EXPECT_FALSE(e.empty());
}

TEST(Unpickler, RefusesAbsurdNesting) {
  std::string p = "\x80\x02N" + std::string(10000, '\x85') + ".";  // None wrapped in 10000 1-tuples
  std::string e = unpickle_error_of(p);
  EXPECT_NE(e.find("nested deeper than"), std::string::npos) << e;
}

}  // namespace
}  // namespace instseg
