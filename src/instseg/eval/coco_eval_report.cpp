// CocoEvaluator's reports: summarize()'s printed lines, mmdet's copypaste
// line and mmdet's per-category (classwise) AP table.
#include "instseg/eval/coco_eval.h"

#include "instseg/core/require.h"

#include <cmath>
#include <cstdio>
#include <limits>

namespace instseg::eval {

std::string CocoEvaluator::summary_text() const {
  INSTSEG_REQUIRE(accumulated_, "CocoEvaluator::summary_text: call accumulate() first");
  struct Line {
    bool ap;
    const char* iou;
    const char* area;
    int64_t max_dets;
  };
  const auto& md = p_.max_dets;
  const int64_t m0 = md[0], m1 = md.size() > 1 ? md[1] : -1, m2 = md.size() > 2 ? md[2] : -1;
  char range[32];
  std::snprintf(range, sizeof(range), "%0.2f:%0.2f", p_.iou_thrs.front(), p_.iou_thrs.back());
  const Line lines[12] = {{true, range, "all", 100},    {true, "0.50", "all", m2},
                          {true, "0.75", "all", m2},     {true, range, "small", m2},
                          {true, range, "medium", m2},   {true, range, "large", m2},
                          {false, range, "all", m0},     {false, range, "all", m1},
                          {false, range, "all", m2},     {false, range, "small", m2},
                          {false, range, "medium", m2},  {false, range, "large", m2}};
  std::string out;
  char buf[160];
  for (int i = 0; i < 12; ++i) {
    const Line& l = lines[i];
    // ' {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}'
    std::snprintf(buf, sizeof(buf), " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3lld ] = %0.3f\n",
                  l.ap ? "Average Precision" : "Average Recall", l.ap ? "(AP)" : "(AR)", l.iou, l.area,
                  static_cast<long long>(l.max_dets), stats_[i]);
    out += buf;
  }
  return out;
}

std::string CocoEvaluator::copypaste_line() const {
  INSTSEG_REQUIRE(accumulated_, "CocoEvaluator::copypaste_line: call accumulate() first");
  char buf[160];
  std::snprintf(buf, sizeof(buf), "%s_mAP_copypaste: %.3f %.3f %.3f %.3f %.3f %.3f", iou_type_name(p_.iou_type),
                stats_[0], stats_[1], stats_[2], stats_[3], stats_[4], stats_[5]);
  return buf;
}

std::vector<CategoryAp> CocoEvaluator::per_category() const {
  INSTSEG_REQUIRE(accumulated_, "CocoEvaluator::per_category: call accumulate() first");
  const size_t T = p_.iou_thrs.size(), R = p_.rec_thrs.size(), K = p_.use_cats ? p_.cat_ids.size() : 1,
               A = p_.area_rng.size(),
               M = p_.max_dets.size();
  // mmdet classwise: precisions[t, :, k, a, -1] over valid entries.
  auto mean_over = [&](size_t k, size_t t0, size_t t1, size_t a) {
    std::vector<double> v;
    for (size_t t = t0; t < t1 && t < T; ++t)
      for (size_t r = 0; r < R; ++r) {
        const double x = precision_[(((t * R + r) * K + k) * A + a) * M + (M - 1)];
        if (x > -1) v.push_back(x);
      }
    if (v.empty() || a >= A) return std::numeric_limits<double>::quiet_NaN();
    return np_pairwise_sum(v.data(), static_cast<int64_t>(v.size())) / static_cast<double>(v.size());
  };
  std::vector<CategoryAp> out;
  for (size_t k = 0; k < K; ++k) {
    CategoryAp c;
    c.category_id = p_.use_cats ? p_.cat_ids[k] : -1;
    c.ap = mean_over(k, 0, T, 0);
    c.ap50 = mean_over(k, 0, 1, 0);
    c.ap75 = mean_over(k, 5, 6, 0);
    c.ap_s = A > 1 ? mean_over(k, 0, T, 1) : NAN;
    c.ap_m = A > 2 ? mean_over(k, 0, T, 2) : NAN;
    c.ap_l = A > 3 ? mean_over(k, 0, T, 3) : NAN;
    out.push_back(c);
  }
  return out;
}

std::string CocoEvaluator::per_category_table(const std::vector<std::string>& names) const {
  const auto rows = per_category();
  std::vector<std::string> label(rows.size());
  size_t wn = 8;
  for (size_t k = 0; k < rows.size(); ++k) {
    label[k] = k < names.size() ? names[k] : std::to_string(rows[k].category_id);
    wn = std::max(wn, label[k].size());
  }
  auto num = [](double v) {
    if (std::isnan(v)) return std::string("nan");
    char b[32];
    std::snprintf(b, sizeof(b), "%.3f", v);
    return std::string(b);
  };
  std::string out;
  char buf[512];
  std::snprintf(buf, sizeof(buf), "| %-*s | %-6s | %-6s | %-6s | %-6s | %-6s | %-6s |\n", static_cast<int>(wn),
                "category", "mAP", "mAP_50", "mAP_75", "mAP_s", "mAP_m", "mAP_l");
  out += buf;
  out += "|" + std::string(wn + 2, '-') + "|--------|--------|--------|--------|--------|--------|\n";
  for (size_t k = 0; k < rows.size(); ++k) {
    const auto& r = rows[k];
    std::snprintf(buf, sizeof(buf), "| %-*s | %-6s | %-6s | %-6s | %-6s | %-6s | %-6s |\n", static_cast<int>(wn),
                  label[k].c_str(), num(r.ap).c_str(), num(r.ap50).c_str(), num(r.ap75).c_str(),
                  num(r.ap_s).c_str(), num(r.ap_m).c_str(), num(r.ap_l).c_str());
    out += buf;
  }
  return out;
}

}  // namespace instseg::eval
