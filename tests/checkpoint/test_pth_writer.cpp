// write_pth / save_checkpoint: our own reader reads it back exactly, and Python's
// torch.load (when python3 with torch is available) sees the same values.
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/checkpoint/pth_writer.h"
#include "instseg/core/atomic_file.h"
#include "instseg/core/check.h"

#include "common/test_util.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace instseg {
namespace {

namespace fs = std::filesystem;

// A python3 that can import torch: $INSTSEG_PYTHON, python3, /usr/bin/python3; "" if none.
std::string python_with_torch() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("INSTSEG_PYTHON")) candidates.push_back(env);
  candidates.push_back("python3");
  candidates.push_back("/usr/bin/python3");
  for (const auto& py : candidates)
    if (std::system((py + " -c 'import torch' >/dev/null 2>&1").c_str()) == 0) return py;
  return "";
}

PyValue s(const char* v) { return PyValue::str(v); }
PyValue i(int64_t v) { return PyValue::from_int(v); }

// The checkpoint both round-trip tests write.
void write_known(const std::string& path) {
  PyValue meta = PyValue::dict();
  meta.dict_set(s("mmdet_version"), s("3.3.0"));
  meta.dict_set(s("epoch"), i(12));
  meta.dict_set(s("big"), i(int64_t(1) << 40));
  meta.dict_set(s("neg"), i(-70000));
  meta.dict_set(s("lr"), PyValue::from_float(0.02));
  meta.dict_set(s("flag"), PyValue::from_bool(true));
  meta.dict_set(s("none"), PyValue::none());
  meta.dict_set(s("classes"), PyValue::tuple({s("ball"), s("kite"), s("box")}));
  meta.dict_set(s("palette"), PyValue::list({PyValue::list({i(1), i(2), i(3)})}));
  meta.dict_set(s("text"), s("caf\xc3\xa9 'q' \"d\"\n"));
  TensorDict sd;
  at::Tensor base = at::arange(24, at::kFloat).reshape({4, 6});
  sd.set("backbone.conv1.weight", base);
  sd.set("backbone.conv1.weight_t", base.t());                 // a view: shares the storage
  sd.set("backbone.slice", base.slice(0, 1, 3).slice(1, 0, 6, 2));
  sd.set("bn.num_batches_tracked", at::scalar_tensor(7, at::kLong));
  sd.set("half", at::arange(5, at::kFloat).div(4).to(at::kHalf));
  sd.set("bf16", at::arange(5, at::kFloat).div(4).to(at::kBFloat16));
  sd.set("mask", at::arange(5, at::kLong).remainder(2).to(at::kBool));
  sd.set("u8", at::arange(250, 255, at::kLong).to(at::kByte));
  sd.set("f64", at::arange(5, at::kDouble).div(3));
  save_checkpoint(path, meta, sd, {{"extra", PyValue::bytes(std::string("\x00\xff", 2))}});
}

TEST(PthWriter, OurReaderReadsItBack) {
  std::string dir = test::temp_dir("ckpt_write");
  std::string path = dir + "/model.pth";
  write_known(path);
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_EQ(e.path().filename(), "model.pth");  // no temp left
  PthFile f = read_pth(path);
  EXPECT_EQ(f.format, "zip");
  const PyValue& meta = *f.root.get("meta");
  EXPECT_EQ(meta.repr(), "{'mmdet_version': '3.3.0', 'epoch': 12, 'big': 1099511627776, 'neg': -70000, 'lr': 0.02, "
                         "'flag': True, 'none': None, 'classes': ('ball', 'kite', 'box'), 'palette': [[1, 2, 3]], "
                         "'text': 'caf\xc3\xa9 \\'q\\' \"d\"\\n'}");
  EXPECT_EQ(f.root.get("extra")->as_str(), std::string("\x00\xff", 2));
  TensorDict sd = load_state_dict(path);
  ASSERT_EQ(sd.size(), 9u);
  at::Tensor base = at::arange(24, at::kFloat).reshape({4, 6});
  EXPECT_TRUE(sd.at("backbone.conv1.weight").equal(base));
  EXPECT_TRUE(sd.at("backbone.conv1.weight_t").equal(base.t()));
  EXPECT_EQ(sd.at("backbone.conv1.weight_t").storage().unsafeGetStorageImpl(),
            sd.at("backbone.conv1.weight").storage().unsafeGetStorageImpl());
  EXPECT_TRUE(sd.at("backbone.slice").equal(base.slice(0, 1, 3).slice(1, 0, 6, 2)));
  EXPECT_EQ(sd.at("bn.num_batches_tracked").item<int64_t>(), 7);
  EXPECT_EQ(sd.at("half").scalar_type(), at::kHalf);
  EXPECT_TRUE(sd.at("bf16").equal(at::arange(5, at::kFloat).div(4).to(at::kBFloat16)));
  EXPECT_TRUE(sd.at("mask").equal(at::tensor({0, 1, 0, 1, 0}).to(at::kBool)));
  EXPECT_EQ(sd.at("u8")[4].item<int64_t>(), 254);
  EXPECT_TRUE(sd.at("f64").equal(at::arange(5, at::kDouble).div(3)));
}

TEST(PthWriter, ErrorsNameThePath) {
  std::string bad = "/nonexistent_dir_ckpt/x.pth";
  try {
    write_pth(bad, PyValue::dict());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(bad + ": cannot create", 0), 0u) << e.what();
  }
  std::string path = test::temp_dir("ckpt_write_bad") + "/x.pth";
  StorageRef bare;
  bare.key = "0";
  bare.numel = 2;
  bare.storage_nbytes = 2;
  EXPECT_THROW(write_pth(path, PyValue::storage(bare)), Error);
  EXPECT_FALSE(fs::exists(path));
}

TEST(PthWriter, PythonTorchLoadSeesTheSameValues) {
  std::string py = python_with_torch();
  if (py.empty()) GTEST_SKIP() << "python3 with torch not found (set INSTSEG_PYTHON); skipping";
  std::string path = test::temp_dir("ckpt_py") + "/model.pth";
  write_known(path);
  std::string script = test::temp_dir("ckpt_py") + "/check.py";
  {
    std::ofstream out(script);
    out << R"PY(import sys, torch
ck = torch.load(sys.argv[1])
assert list(ck) == ['meta', 'state_dict', 'extra'], list(ck)
m = ck['meta']
assert m == {'mmdet_version': '3.3.0', 'epoch': 12, 'big': 2**40, 'neg': -70000, 'lr': 0.02, 'flag': True,
             'none': None, 'classes': ('ball', 'kite', 'box'), 'palette': [[1, 2, 3]],
             'text': 'caf\u00e9 \'q\' "d"\n'}, m
assert ck['extra'] == b'\x00\xff'
sd = ck['state_dict']
assert list(sd) == ['backbone.conv1.weight', 'backbone.conv1.weight_t', 'backbone.slice', 'bn.num_batches_tracked',
                    'half', 'bf16', 'mask', 'u8', 'f64'], list(sd)
base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
assert torch.equal(sd['backbone.conv1.weight'], base)
assert torch.equal(sd['backbone.conv1.weight_t'], base.t())
assert sd['backbone.conv1.weight_t'].data_ptr() == sd['backbone.conv1.weight'].data_ptr()
assert torch.equal(sd['backbone.slice'], base[1:3, ::2])
assert sd['bn.num_batches_tracked'].dtype == torch.int64 and sd['bn.num_batches_tracked'].item() == 7
assert torch.equal(sd['half'], (torch.arange(5.) / 4).half())
assert torch.equal(sd['bf16'], (torch.arange(5.) / 4).bfloat16())
assert torch.equal(sd['mask'], torch.tensor([False, True, False, True, False]))
assert torch.equal(sd['u8'], torch.arange(250, 255).to(torch.uint8))
assert torch.equal(sd['f64'], torch.arange(5, dtype=torch.float64) / 3)
# A bare state dict also passes weights_only=True (1.13's restricted unpickler has no BINFLOAT, so not the meta).
w = torch.load(sys.argv[2], weights_only=True)
assert list(w) == list(sd) and all(torch.equal(w[k], sd[k]) for k in sd)
print('PY_OK')
)PY";
  }
  std::string bare = path + ".bare.pth";
  write_pth(bare, state_dict_value(load_state_dict(path)));
  std::string cmd = py + " " + script + " " + path + " " + bare + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[512];
  while (fgets(buf, sizeof(buf), pipe)) output += buf;
  int rc = pclose(pipe);
  EXPECT_EQ(rc, 0) << output;
  EXPECT_NE(output.find("PY_OK"), std::string::npos) << output;
}

// Disk full while a checkpoint is written: LibTorch's zip writer used to
// throw from its destructor (std::terminate, SIGABRT) and leave a 23 MB temp
// file. Now: a clear error naming the file, no temp file, the previous
// checkpoint unchanged.
TEST(PthWriter, DiskFullGivesAClearErrorAndKeepsThePreviousCheckpoint) {
  test::SmallTmpfs small("2m");
  if (!small.ok()) GTEST_SKIP() << "cannot mount a tmpfs here (not root?); see InjectedWriteFailure";
  const std::string path = small.dir() + "/epoch_1.pth";
  TensorDict little;
  little.set("w", at::arange(10, at::kFloat));
  save_checkpoint(path, PyValue::dict(), little);
  TensorDict big;
  big.set("w", at::ones({1 << 20}, at::kFloat));  // 4 MB > 2 MB
  std::string err;
  try {
    save_checkpoint(path, PyValue::dict(), big);
  } catch (const Error& e) {
    err = e.what();
  }
  EXPECT_NE(err.find("no space left on device writing " + path), std::string::npos) << err;
  for (const auto& e : fs::directory_iterator(small.dir()))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  EXPECT_TRUE(at::equal(as_tensor(*read_pth(path).root.get("state_dict")->get("w")), little.at("w")));
}

TEST(PthWriter, InjectedWriteFailure) {
  const std::string dir = test::temp_dir("pth_enospc");
  const std::string path = dir + "/iter_5.pth";
  TensorDict w;
  w.set("w", at::ones({50000}, at::kFloat));
  save_checkpoint(path, PyValue::dict(), w);
  TensorDict w2;
  w2.set("w", at::zeros({50000}, at::kFloat));
  inject_write_failure(100000);  // fails inside the storage record
  std::string err;
  try {
    save_checkpoint(path, PyValue::dict(), w2);
  } catch (const Error& e) {
    err = e.what();
  }
  inject_write_failure(-1);
  EXPECT_NE(err.find("no space left on device writing " + path), std::string::npos) << err;
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  EXPECT_TRUE(at::equal(as_tensor(*read_pth(path).root.get("state_dict")->get("w")), w.at("w")));
}

}  // namespace
}  // namespace instseg
