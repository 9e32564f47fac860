// core/autocast.h: the autocast scope shared by training (engine/amp.h) and
// inference (PredictorOptions::dtype).
#include "instseg/core/autocast.h"

#include "instseg/core/check.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace instseg {
namespace {

TEST(Autocast, CpuBf16Scope) {
  auto a = at::randn({4, 4}), b = at::randn({4, 4});
  EXPECT_FALSE(autocast_enabled(c10::DeviceType::CPU));
  {
    AutocastGuard g(c10::DeviceType::CPU, AmpDtype::bf16);
    EXPECT_TRUE(autocast_enabled(c10::DeviceType::CPU));
    EXPECT_EQ(at::mm(a, b).scalar_type(), at::kBFloat16);
  }
  EXPECT_FALSE(autocast_enabled(c10::DeviceType::CPU));
  EXPECT_EQ(at::mm(a, b).scalar_type(), at::kFloat);
  {
    AutocastGuard g(c10::DeviceType::CPU, AmpDtype::none);
    EXPECT_EQ(at::mm(a, b).scalar_type(), at::kFloat);
  }
  EXPECT_THROW(AutocastGuard(c10::DeviceType::CPU, AmpDtype::fp16), Error);
  EXPECT_EQ(parse_amp_dtype("bfloat16"), AmpDtype::bf16);
  EXPECT_THROW(parse_amp_dtype("fp8"), Error);
}

TEST(Autocast, NestedScopesRestoreTheOuterOne) {
  auto a = at::randn({4, 4}), b = at::randn({4, 4});
  {
    AutocastGuard outer(c10::DeviceType::CPU, AmpDtype::bf16);
    { AutocastGuard inner(c10::DeviceType::CPU, AmpDtype::none); }  // none: does nothing
    EXPECT_TRUE(autocast_enabled(c10::DeviceType::CPU));
    EXPECT_EQ(at::mm(a, b).scalar_type(), at::kBFloat16);
  }
  EXPECT_FALSE(autocast_enabled(c10::DeviceType::CPU));
  EXPECT_EQ(to_string(parse_amp_dtype("fp32")), "none");
  EXPECT_EQ(to_string(parse_amp_dtype("half")), "fp16");
}

}  // namespace
}  // namespace instseg
