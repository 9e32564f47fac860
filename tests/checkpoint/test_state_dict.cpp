// module_state_dict key order and load_state_dict_into, against a module state_dict()
// written by Python (tests/data/checkpoint/ordered_*.pth from make_fixtures.py's Small).
#include "instseg/checkpoint/load_weights.h"
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/checkpoint/pth_writer.h"
#include "instseg/checkpoint/state_dict.h"
#include "instseg/core/check.h"

#include "common/test_util.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

namespace instseg {
namespace {

// The C++ twin of make_fixtures.py's Small: conv(3->4, 3x3, no bias), bn(4), fc(8->2).
struct SmallImpl : torch::nn::Module {
  SmallImpl() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3).bias(false)));
    bn = register_module("bn", torch::nn::BatchNorm2d(4));
    fc = register_module("fc", torch::nn::Linear(8, 2));
  }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(Small);

std::vector<std::string> keys(const TensorDict& d) {
  std::vector<std::string> out;
  for (const auto& kv : d) out.push_back(kv.first);
  return out;
}

TEST(StateDict, KeysInPythonOrder) {
  Small m;
  TensorDict py = load_state_dict(test::data_path("checkpoint/ordered_zip.pth"));
  EXPECT_EQ(keys(module_state_dict(*m)), keys(py));
  // Entries alias the module's tensors.
  EXPECT_TRUE(module_state_dict(*m).at("fc.bias").is_same(m->fc->bias));
}

TEST(StateDict, LoadsPythonWeightsStrict) {
  for (const char* fmt : {"zip", "legacy"}) {
    Small m;
    TensorDict py = load_state_dict(test::data_path(std::string("checkpoint/ordered_") + fmt + ".pth"));
    LoadReport r = load_state_dict_into(*m, py, /*strict=*/true);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.loaded, 8u);
    EXPECT_TRUE(m->conv->weight.equal(py.at("conv.weight")));
    EXPECT_EQ(m->bn->num_batches_tracked.item<int64_t>(), 7);
    EXPECT_TRUE(m->bn->running_var.equal(py.at("bn.running_var")));
    EXPECT_TRUE(m->conv->weight.requires_grad());  // still a parameter
    EXPECT_FALSE(m->conv->weight.is_same(py.at("conv.weight")));  // copied, not aliased
  }
}

TEST(StateDict, ReportsMissingUnexpectedAndMismatched) {
  TensorDict py = load_state_dict(test::data_path("checkpoint/ordered_legacy.pth"));
  TensorDict bad;
  for (const auto& kv : py) {
    if (kv.first == "fc.bias") continue;                                  // missing
    bad.set(kv.first, kv.first == "bn.weight" ? at::zeros({5}) : kv.second);  // mismatched
  }
  bad.set("head.extra", at::zeros({1}));  // unexpected
  Small m;
  at::Tensor before = m->conv->weight.clone();
  try {
    load_state_dict_into(*m, bad, /*strict=*/true);
    FAIL() << "strict load did not throw";
  } catch (const Error& e) {
    std::string w = e.what();
    EXPECT_NE(w.find("missing 1 key: fc.bias"), std::string::npos) << w;
    EXPECT_NE(w.find("unexpected 1 key: head.extra"), std::string::npos) << w;
    EXPECT_NE(w.find("bn.weight: checkpoint [5] vs model [4]"), std::string::npos) << w;
  }
  EXPECT_TRUE(m->conv->weight.equal(before));  // strict failure copies nothing
  LoadReport r = load_state_dict_into(*m, bad, /*strict=*/false);
  EXPECT_EQ(r.missing, std::vector<std::string>{"fc.bias"});
  EXPECT_EQ(r.unexpected, std::vector<std::string>{"head.extra"});
  EXPECT_EQ(r.mismatched.size(), 1u);
  EXPECT_EQ(r.loaded, 6u);
  EXPECT_TRUE(m->conv->weight.equal(py.at("conv.weight")));
}

// Weights with NaN used to load silently (predict then printed 0 instances).
TEST(StateDict, NonFiniteWeightsAreRefusedAtLoad) {
  const std::string path = test::temp_dir("nan_weights") + "/nan.pth";
  Small src;
  TensorDict sd = module_state_dict(*src);
  {
    torch::NoGradGuard ng;
    sd.at("conv.weight")[0][0][0][0] = std::numeric_limits<float>::quiet_NaN();
    sd.at("fc.bias")[1] = std::numeric_limits<float>::infinity();
  }
  save_checkpoint(path, PyValue::dict(), sd);
  Small dst;
  const at::Tensor before = dst->conv->weight.clone();
  std::string err;
  try {
    load_weights(*dst, path);  // checkpoint/load_weights.h: the one loader
  } catch (const Error& e) {
    err = e.what();
  }
  EXPECT_TRUE(at::equal(before, dst->conv->weight));  // nothing copied
  EXPECT_NE(err.find(path + ": 2 of " + std::to_string(sd.size()) +
                     " tensors contain non-finite values (NaN/inf): conv.weight, fc.bias"),
            std::string::npos)
      << err;
  EXPECT_EQ(nonfinite_tensors(sd), (std::vector<std::string>{"conv.weight", "fc.bias"}));
  LoadWeightsOptions o;
  o.allow_nonfinite = true;  // inspection tools may still look at such a file
  EXPECT_NO_THROW(load_weights(*dst, path, o));
  EXPECT_TRUE(std::isnan(dst->conv->weight[0][0][0][0].item<float>()));
}

}  // namespace
}  // namespace instseg
