// linear_sum_assignment against scipy (fixtures from
// tests/data/matchers/make_hungarian_fixture.py) and hand-solved matrices.
#include "common/test_util.h"
#include "instseg/matchers/hungarian.h"

#include <ATen/ATen.h>
#include <torch/serialize.h>

#include <fstream>
#include <iterator>
#include <limits>

namespace instseg {
namespace {

TEST(Hungarian, MatchesScipyOnRandomRectangularCosts) {
  std::ifstream f(test::data_path("matchers/lsa_cases.pt"), std::ios::binary);
  ASSERT_TRUE(f.good());
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto d = torch::pickle_load(bytes).toGenericDict();
  const int64_t n = d.at("num_cases").toTensor()[0].item<int64_t>();
  ASSERT_GE(n, 20);
  int identical = 0;
  for (int64_t i = 0; i < n; ++i) {
    const std::string p = "case" + std::to_string(i) + ".";
    SCOPED_TRACE(p);
    auto cost = d.at(p + "cost").toTensor();
    auto rows = d.at(p + "rows").toTensor();
    auto cols = d.at(p + "cols").toTensor();
    auto m = linear_sum_assignment(cost);
    ASSERT_EQ(static_cast<int64_t>(m.rows.size()), std::min(cost.size(0), cost.size(1)));
    // One-to-one and sorted by row.
    std::vector<int64_t> seen_c(cost.size(1), 0);
    double total = 0;
    for (size_t k = 0; k < m.rows.size(); ++k) {
      if (k > 0) {
        EXPECT_LT(m.rows[k - 1], m.rows[k]);
      }
      EXPECT_EQ(seen_c[m.cols[k]]++, 0);
      total += cost[m.rows[k]][m.cols[k]].item<double>();
    }
    EXPECT_NEAR(total, d.at(p + "total").toTensor()[0].item<double>(), 1e-9);
    bool same = at::equal(at::tensor(m.rows, at::kLong), rows) &&
                at::equal(at::tensor(m.cols, at::kLong), cols);
    identical += same;
    // Same algorithm and tie-breaking as scipy: the matchings are identical.
    EXPECT_TRUE(same);
  }
  EXPECT_EQ(identical, n);
}

TEST(Hungarian, HandSolved3x4AndTranspose) {
  // Row 0 wants col 1 (1), row 1 wants col 1 too (0) but then row 0 pays 4;
  // optimum: r0->c0 (2), r1->c1 (0), r2->c3 (1) = 3.
  std::vector<double> c = {2, 1, 9, 9,  //
                           9, 0, 9, 8,  //
                           9, 9, 5, 1};
  auto m = linear_sum_assignment(c, 3, 4);
  EXPECT_EQ(m.rows, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(m.cols, (std::vector<int64_t>{0, 1, 3}));
  // Transposed (4 rows, 3 cols): same pairs, sorted by the new rows.
  auto t = linear_sum_assignment(at::tensor(c, at::kDouble).view({3, 4}).t().contiguous());
  EXPECT_EQ(t.rows, (std::vector<int64_t>{0, 1, 3}));
  EXPECT_EQ(t.cols, (std::vector<int64_t>{0, 1, 2}));
}

TEST(Hungarian, EmptyAndInfeasible) {
  EXPECT_TRUE(linear_sum_assignment(at::zeros({0, 5})).rows.empty());
  EXPECT_TRUE(linear_sum_assignment(at::zeros({5, 0})).rows.empty());
  const double inf = std::numeric_limits<double>::infinity();
  // Both rows can only use column 0.
  EXPECT_THROW(linear_sum_assignment({1, inf, 2, inf}, 2, 2), c10::Error);
  EXPECT_THROW(linear_sum_assignment({1, std::nan("")}, 1, 2), c10::Error);
  EXPECT_THROW(linear_sum_assignment({1, 2, 3}, 2, 2), c10::Error);
}

}  // namespace
}  // namespace instseg
