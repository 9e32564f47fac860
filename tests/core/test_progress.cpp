#include "instseg/core/progress.h"

#include <gtest/gtest.h>

namespace instseg {

TEST(ProgressBar, RendersMmcvStyle) {
  ProgressBar bar(4, "", 1e9);
  bar.set_tty(false);
  bar.update(1);
  auto s = bar.render(8);
  // 1/4 of 8 columns filled
  EXPECT_EQ(s.substr(0, 10), "[>>      ]");
  EXPECT_NE(s.find("1/4, "), std::string::npos) << s;
  EXPECT_NE(s.find("task/s, elapsed: "), std::string::npos) << s;
  EXPECT_NE(s.find("ETA: "), std::string::npos) << s;
  bar.update(3);
  EXPECT_EQ(bar.render(8).substr(0, 10), "[>>>>>>>>]");
  bar.finish();
}

TEST(ProgressBar, UnknownTotalShowsCount) {
  ProgressBar bar(0, "eval", 1e9);
  bar.set_tty(false);
  bar.update(5);
  EXPECT_EQ(bar.render().rfind("eval 5 done", 0), 0u) << bar.render();
  bar.finish();
}

}  // namespace instseg
