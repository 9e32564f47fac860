#include "instseg/engine/amp.h"
#include "instseg/engine/metrics_log.h"

#include "common/test_util.h"
#include "instseg/core/check.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>

namespace instseg {

TEST(MetricsLog, EtaLikePythonTimedelta) {
  EXPECT_EQ(format_eta(30475.9), "8:27:55");
  EXPECT_EQ(format_eta(0), "0:00:00");
  EXPECT_EQ(format_eta(86400 + 3661), "1 day, 1:01:01");
  EXPECT_EQ(format_eta(2 * 86400 + 59), "2 days, 0:00:59");
}

TEST(MetricsLog, MmengineTrainLine) {
  Scalars v = {{"lr", 2.1648e-06}, {"eta", 0}, {"time", 0.25264}, {"data_time", 0.03342},
               {"memory", 9182}, {"grad_norm", 3.14159}, {"loss", 1.5}, {"loss_cls", 0.75}};
  v.erase(v.begin() + 1);  // eta is a string: the trainer inserts it itself
  auto line = format_epoch_line("train", 1, 12, 50, 1509, v);
  EXPECT_EQ(line,
            "Epoch(train)  [1][  50/1509]  lr: 2.1648e-06  time: 0.2526  data_time: 0.0334  "
            "memory: 9182  grad_norm: 3.1416  loss: 1.5000  loss_cls: 0.7500");
  EXPECT_EQ(format_epoch_line("val", 12, 12, 1800, 1843, {}), "Epoch(val) [12][1800/1843]");
}

TEST(MetricsLog, JsonLines) {
  EXPECT_EQ(scalars_json({{"lr", 0.02}, {"loss", 1.0 / 3}, {"epoch", 1}, {"iter", 50}, {"step", 50}}),
            "{\"lr\": 0.02, \"loss\": 0.3333333333, \"epoch\": 1, \"iter\": 50, \"step\": 50}");
  auto dir = test::temp_dir("jsonl");
  {
    JsonLinesWriter w(dir + "/scalars.json");
    w.write({{"a", 1.5}});
    w.write({{"b\"q", 2}});
  }
  std::ifstream in(dir + "/scalars.json");
  std::string l1, l2;
  std::getline(in, l1);
  std::getline(in, l2);
  EXPECT_EQ(l1, "{\"a\": 1.5}");
  EXPECT_EQ(l2, "{\"b\\\"q\": 2}");
}

TEST(MetricsLog, HistoryWindowMean) {
  MetricHistory h(3);
  for (double x : {1.0, 2.0, 3.0, 4.0}) h.update("loss", x);
  EXPECT_DOUBLE_EQ(h.mean("loss", 2), 3.5);
  EXPECT_DOUBLE_EQ(h.mean("loss", 10), 3.0);  // max_len 3: {2,3,4}
  EXPECT_DOUBLE_EQ(h.latest("loss"), 4.0);
  EXPECT_DOUBLE_EQ(h.mean("absent", 2), 0.0);
}

TEST(Amp, GradScalerBackoffAndGrowth) {
  GradScaler s(true, 1024.0, 2.0, 0.5, 3);
  auto p = at::zeros({2}).set_requires_grad(true);
  auto loss = (p * at::tensor({1.0f, 2.0f})).sum();
  s.scale(loss).backward();
  EXPECT_FLOAT_EQ(p.grad()[1].item<float>(), 2048.0f);
  EXPECT_FALSE(s.unscale({p}));
  EXPECT_FLOAT_EQ(p.grad()[1].item<float>(), 2.0f);
  s.update(false);
  s.update(false);
  EXPECT_DOUBLE_EQ(s.get_scale(), 1024.0);
  s.update(false);  // third clean step: grow
  EXPECT_DOUBLE_EQ(s.get_scale(), 2048.0);
  p.mutable_grad() = at::tensor({1.0f, NAN});
  EXPECT_TRUE(s.unscale({p}));
  s.update(true);
  EXPECT_DOUBLE_EQ(s.get_scale(), 1024.0);
  EXPECT_EQ(s.growth_tracker(), 0);
  GradScaler off(false);
  EXPECT_FALSE(off.unscale({p}));
}

}  // namespace instseg
