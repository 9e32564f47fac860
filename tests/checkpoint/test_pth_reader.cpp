// read_pth on files written by Python torch 1.13 (tests/data/checkpoint/make_fixtures.py),
// each case in both the zip and the legacy format.
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/core/check.h"

#include "common/test_util.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace instseg {
namespace {

std::string fixture(const std::string& name, const std::string& fmt) {
  return test::data_path("checkpoint/" + name + "_" + fmt + ".pth");
}

// (arange(prod(shape)) + start) in float64, converted to dtype: the generator's arange().
at::Tensor pattern(at::IntArrayRef shape, at::ScalarType dtype = at::kFloat, double start = 0.0) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return (at::arange(n, at::kDouble) + start).reshape(shape).to(dtype);
}

std::vector<std::string> keys_of(const PyValue& d) {
  std::vector<std::string> out;
  for (const auto& kv : d.dict_items()) out.push_back(kv.first.as_str());
  return out;
}

class PthReader : public ::testing::TestWithParam<std::string> {};

TEST_P(PthReader, PlainDict) {
  PthFile f = read_pth(fixture("plain", GetParam()));
  EXPECT_EQ(f.format, GetParam());
  ASSERT_TRUE(f.root.is_dict());
  EXPECT_EQ(keys_of(f.root), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(as_tensor(*f.root.get("a")).equal(pattern({2, 3})));
  EXPECT_TRUE(as_tensor(*f.root.get("b")).equal(pattern({4}, at::kLong, -2)));
}

TEST_P(PthReader, ModuleStateDictIsAnOrderedDict) {
  PthFile f = read_pth(fixture("ordered", GetParam()));
  ASSERT_TRUE(f.root.is_dict());
  EXPECT_EQ(keys_of(f.root), (std::vector<std::string>{"conv.weight", "bn.weight", "bn.bias", "bn.running_mean",
                                                        "bn.running_var", "bn.num_batches_tracked", "fc.weight",
                                                        "fc.bias"}));
  // The generator fills sorted key i (floating only) with (arange + 100 i) / 1000 in float32.
  const char* sorted[] = {"bn.bias",     "bn.num_batches_tracked", "bn.running_mean", "bn.running_var",
                          "bn.weight",   "conv.weight",            "fc.bias",         "fc.weight"};
  for (int i = 0; i < 8; ++i) {
    const at::Tensor& t = as_tensor(*f.root.get(sorted[i]));
    if (i == 1) {
      EXPECT_EQ(t.scalar_type(), at::kLong);
      EXPECT_EQ(t.dim(), 0);
      EXPECT_EQ(t.item<int64_t>(), 7);
      continue;
    }
    EXPECT_TRUE(t.equal(pattern(t.sizes(), at::kFloat, 100.0 * i) / 1000.0)) << sorted[i];
  }
  EXPECT_EQ(as_tensor(*f.root.get("conv.weight")).sizes(), (std::vector<int64_t>{4, 3, 3, 3}));
}

TEST_P(PthReader, SingleKeyDict) {
  PthFile f = read_pth(fixture("single", GetParam()));
  ASSERT_EQ(f.root.size(), 1u);
  EXPECT_TRUE(as_tensor(*f.root.get("only")).equal(pattern({3}, at::kFloat, 1.5)));
}

TEST_P(PthReader, NestedMetaWithNumpy) {
  PthFile f = read_pth(fixture("meta", GetParam()));
  const PyValue& m = *f.root.get("meta");
  EXPECT_EQ(m.get("mmdet_version")->as_str(), "3.3.0");
  EXPECT_EQ(m.get("unicode")->as_str(), "caf\xc3\xa9 \xe2\x9c\x93");
  EXPECT_EQ(m.get("epoch")->as_int(), 12);
  EXPECT_EQ(m.get("neg")->as_int(), -5);
  EXPECT_EQ(m.get("big")->repr(), "1180591620717411303424");  // 2**70
  EXPECT_DOUBLE_EQ(m.get("lr")->as_float(), 0.02);
  EXPECT_TRUE(m.get("flag")->as_bool());
  EXPECT_FALSE(m.get("off")->as_bool());
  EXPECT_TRUE(m.get("nothing")->is_none());
  EXPECT_EQ(m.get("raw")->as_str(), std::string("\x00\x01\xff" "abc", 6));
  EXPECT_EQ(m.get("classes")->repr(), "('ball', 'kite', 'box')");
  EXPECT_EQ(m.get("palette")->repr(), "[[220, 20, 60], [119, 11, 32]]");
  EXPECT_EQ(m.get("nested")->repr(), "{'a': {'b': [1, 2.5, 'x']}, 'empty_list': [], 'empty_dict': {}}");
  const PyValue& arr = *m.get("np_array");
  ASSERT_TRUE(arr.is_opaque());
  EXPECT_EQ(arr.as_str(), "numpy.core.multiarray._reconstruct");
  ASSERT_TRUE(arr.opaque_state().is_tuple());  // (version, shape, dtype, fortran, raw bytes)
  EXPECT_EQ(arr.opaque_state().items()[1].repr(), "(2, 3)");
  EXPECT_EQ(arr.opaque_state().items()[4].as_str().size(), 24u);
  EXPECT_EQ(m.get("np_scalar")->as_str(), "numpy.core.multiarray.scalar");
  EXPECT_EQ(m.get("np_int")->as_str(), "numpy.core.multiarray.scalar");
  EXPECT_EQ(m.get("ordered")->repr(), "{'z': 1, 'y': 2}");
  EXPECT_EQ(m.get("device")->repr(), "<torch.device args=('cpu',)>");
  EXPECT_EQ(m.get("dtype")->repr(), "<torch.float16>");
  EXPECT_EQ(m.get("size")->repr(), "(2, 3)");
  EXPECT_TRUE(as_tensor(*f.root.get("state_dict")->get("w")).equal(pattern({2})));
}

TEST_P(PthReader, ViewsShareOneStorage) {
  PthFile f = read_pth(fixture("views", GetParam()));
  at::Tensor base = as_tensor(*f.root.get("base"));
  at::Tensor expect = pattern({4, 6});
  ASSERT_TRUE(base.equal(expect));
  const auto* impl = base.storage().unsafeGetStorageImpl();
  for (const char* k : {"t", "slice", "off", "expand", "empty"})
    EXPECT_EQ(as_tensor(*f.root.get(k)).storage().unsafeGetStorageImpl(), impl) << k;
  at::Tensor t = as_tensor(*f.root.get("t"));
  EXPECT_EQ(t.strides(), (std::vector<int64_t>{1, 6}));
  EXPECT_TRUE(t.equal(expect.t()));
  at::Tensor slice = as_tensor(*f.root.get("slice"));
  EXPECT_EQ(slice.storage_offset(), 6);
  EXPECT_TRUE(slice.equal(expect.slice(0, 1, 3).slice(1, 0, 6, 2)));
  EXPECT_TRUE(as_tensor(*f.root.get("off")).equal(expect.view(-1).slice(0, 5, 9)));
  at::Tensor ex = as_tensor(*f.root.get("expand"));
  EXPECT_EQ(ex.strides(), (std::vector<int64_t>{0, 0}));
  EXPECT_TRUE(ex.equal(at::full({3, 4}, 2.0f)));
  EXPECT_EQ(as_tensor(*f.root.get("empty")).numel(), 0);
  // Writing through one view shows in the others, as in Python.
  base.view(-1)[7].fill_(-1.0f);
  EXPECT_EQ(t[1][1].item<float>(), -1.0f);
  EXPECT_EQ(as_tensor(*f.root.get("off"))[2].item<float>(), -1.0f);
}

TEST_P(PthReader, Dtypes) {
  PthFile f = read_pth(fixture("dtypes", GetParam()));
  const PyValue& r = f.root;
  EXPECT_TRUE(as_tensor(*r.get("f16")).equal(pattern({5}, at::kHalf, -2) / 4));
  EXPECT_TRUE(as_tensor(*r.get("bf16")).equal(pattern({5}, at::kBFloat16, -2) / 4));
  EXPECT_TRUE(as_tensor(*r.get("bool")).equal(at::tensor({1, 0, 1, 1, 0}).to(at::kBool)));
  EXPECT_TRUE(as_tensor(*r.get("i64")).equal(pattern({5}, at::kLong, -1099511627776.0)));
  EXPECT_TRUE(as_tensor(*r.get("u8")).equal(pattern({5}, at::kByte, 250)));
  EXPECT_TRUE(as_tensor(*r.get("i32")).equal(pattern({5}, at::kInt, -3)));
  EXPECT_TRUE(as_tensor(*r.get("i16")).equal(pattern({5}, at::kShort, -3)));
  EXPECT_TRUE(as_tensor(*r.get("i8")).equal(pattern({5}, at::kChar, -3)));
  EXPECT_TRUE(as_tensor(*r.get("f64")).equal(pattern({5}, at::kDouble) / 3));
  at::Tensor s = as_tensor(*r.get("scalar"));
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<float>(), 2.5f);
  EXPECT_TRUE(as_tensor(*r.get("param")).equal(pattern({2, 2})));  // _rebuild_parameter
}

TEST_P(PthReader, MmdetTrainingCheckpoint) {
  std::string path = fixture("mmdet", GetParam());
  PthFile f = read_pth(path);
  EXPECT_EQ(keys_of(f.root), (std::vector<std::string>{"meta", "state_dict", "optimizer", "message_hub"}));
  EXPECT_EQ(f.root.get("meta")->get("seed")->as_str(), "numpy.core.multiarray.scalar");
  const PyValue& opt = *f.root.get("optimizer");
  EXPECT_EQ(keys_of(opt), (std::vector<std::string>{"state", "param_groups"}));
  EXPECT_EQ(opt.get("state")->size(), 5u);  // momentum buffers of the 5 parameters
  EXPECT_TRUE(opt.get("state")->get(PyValue::from_int(0))->get("momentum_buffer")->is_tensor());
  const PyValue& hb = *f.root.get("message_hub")->get("log_scalars")->get("train/loss");
  ASSERT_TRUE(hb.is_opaque());
  EXPECT_EQ(hb.as_str(), "mmengine.logging.history_buffer.HistoryBuffer");
  EXPECT_EQ(hb.opaque_state().get("_log_history")->as_str(), "numpy.core.multiarray._reconstruct");

  // State dict: keys, dtypes, shapes and value sums from the generator.
  TensorDict sd = load_state_dict(path);
  std::ifstream in(test::data_path("checkpoint/mmdet_expected.txt"));
  std::string line;
  size_t i = 0;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string key, dtype, shape, sum;
    std::getline(ls, key, '\t');
    std::getline(ls, dtype, '\t');
    std::getline(ls, shape, '\t');
    std::getline(ls, sum, '\t');
    ASSERT_LT(i, sd.size());
    const auto& item = sd.items()[i++];
    EXPECT_EQ(item.first, key);
    EXPECT_EQ(dtype_name(item.second.scalar_type()), dtype) << key;
    std::string got_shape;
    for (int64_t d = 0; d < item.second.dim(); ++d) got_shape += (d ? "," : "") + std::to_string(item.second.size(d));
    EXPECT_EQ(got_shape, shape) << key;
    EXPECT_NEAR(item.second.to(at::kDouble).sum().item<double>(), std::stod(sum), 1e-9 * (1 + std::fabs(std::stod(sum))))
        << key;
  }
  EXPECT_EQ(i, sd.size());
  EXPECT_EQ(i, 8u);
}

INSTANTIATE_TEST_SUITE_P(Formats, PthReader, ::testing::Values("zip", "legacy"));

TEST(PthReaderWeights, FindsStateDictModelOrTopLevel) {
  PyValue t = tensor_value(at::ones({2}));
  PyValue inner = PyValue::dict();
  inner.dict_set(PyValue::str("module.a"), t);
  inner.dict_set(PyValue::str("b"), t);
  inner.dict_set(PyValue::str("note"), PyValue::str("not a tensor"));
  for (const char* where : {"state_dict", "model"}) {
    PyValue root = PyValue::dict();
    root.dict_set(PyValue::str("meta"), PyValue::dict());
    root.dict_set(PyValue::str(where), inner);
    std::string got;
    EXPECT_TRUE(find_weights(root, &got).same(inner));
    EXPECT_EQ(got, where);
  }
  std::string got = "x";
  EXPECT_TRUE(find_weights(inner, &got).same(inner));
  EXPECT_EQ(got, "");
  TensorDict d = tensor_entries(inner);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.items()[0].first, "a");  // "module." stripped like mmengine
  EXPECT_EQ(tensor_entries(inner, false).items()[0].first, "module.a");
}

TEST(PthReaderWeights, TopLevelTensorsOfAPlainFile) {
  TensorDict d = load_state_dict(fixture("plain", "legacy"));
  ASSERT_EQ(d.size(), 2u);
  EXPECT_TRUE(d.at("a").equal(pattern({2, 3})));
}

TEST(PthReaderErrors, MissingAndNonTorchFiles) {
  try {
    read_pth("/nonexistent/x.pth");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.pth: cannot open file"), std::string::npos) << e.what();
  }
  std::string p = test::temp_dir("ckpt_bad") + "/text.pth";
  std::ofstream(p) << "hello";
  try {
    read_pth(p);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a torch.save file"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("at byte 0"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace instseg
