#include "instseg/matchers/hungarian.h"

#include "instseg/core/check.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace instseg {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Solver state for an nr x nc problem with nr <= nc.
struct LsaState {
  int64_t nr, nc;
  const double* cost;
  std::vector<double> u, v, path_cost;
  std::vector<int64_t> path, col4row, row4col, remaining;
  std::vector<char> row_done, col_done;

  LsaState(const double* c, int64_t r, int64_t n)
      : nr(r), nc(n), cost(c), u(r, 0), v(n, 0), path_cost(n), path(n, -1), col4row(r, -1),
        row4col(n, -1), remaining(n), row_done(r), col_done(n) {}

  // Dijkstra-like search from free row `start` over reduced costs; returns the
  // free column that ends the shortest alternating path (or -1 if none) and
  // the path length in min_val.
  int64_t shortest_path(int64_t start, double& min_val) {
    min_val = 0;
    int64_t num_remaining = nc;
    // Reverse order makes a constant cost matrix give the identity matching
    // (scipy does the same, for the same reason).
    for (int64_t it = 0; it < nc; ++it) remaining[it] = nc - it - 1;
    std::fill(row_done.begin(), row_done.end(), 0);
    std::fill(col_done.begin(), col_done.end(), 0);
    std::fill(path_cost.begin(), path_cost.end(), kInf);
    int64_t sink = -1, i = start;
    while (sink == -1) {
      int64_t index = -1;
      double lowest = kInf;
      row_done[i] = 1;
      const double* crow = cost + i * nc;
      for (int64_t it = 0; it < num_remaining; ++it) {
        const int64_t j = remaining[it];
        const double r = min_val + crow[j] - u[i] - v[j];
        if (r < path_cost[j]) {
          path[j] = i;
          path_cost[j] = r;
        }
        // Prefer a free column on ties: it ends the search sooner.
        if (path_cost[j] < lowest || (path_cost[j] == lowest && row4col[j] == -1)) {
          lowest = path_cost[j];
          index = it;
        }
      }
      min_val = lowest;
      if (min_val == kInf) return -1;  // infeasible
      const int64_t j = remaining[index];
      if (row4col[j] == -1) {
        sink = j;
      } else {
        i = row4col[j];
      }
      col_done[j] = 1;
      remaining[index] = remaining[--num_remaining];
    }
    return sink;
  }

  bool solve() {
    for (int64_t cur = 0; cur < nr; ++cur) {
      double min_val;
      const int64_t sink = shortest_path(cur, min_val);
      if (sink < 0) return false;
      // Update the duals so that reduced costs stay >= 0 and are 0 on the path.
      u[cur] += min_val;
      for (int64_t i = 0; i < nr; ++i) {
        if (row_done[i] && i != cur) u[i] += min_val - path_cost[col4row[i]];
      }
      for (int64_t j = 0; j < nc; ++j) {
        if (col_done[j]) v[j] -= min_val - path_cost[j];
      }
      // Flip the alternating path ending at sink.
      int64_t j = sink;
      while (true) {
        const int64_t i = path[j];
        row4col[j] = i;
        std::swap(col4row[i], j);
        if (i == cur) break;
      }
    }
    return true;
  }
};

}  // namespace

LinearAssignment linear_sum_assignment(const std::vector<double>& cost, int64_t num_rows,
                                       int64_t num_cols) {
  INSTSEG_CHECK(num_rows >= 0 && num_cols >= 0, "linear_sum_assignment: negative size");
  INSTSEG_CHECK(static_cast<int64_t>(cost.size()) == num_rows * num_cols,
                "linear_sum_assignment: ", cost.size(), " costs for a ", num_rows, "x", num_cols,
                " matrix");
  for (double c : cost) {
    INSTSEG_CHECK(!std::isnan(c) && c != -kInf,
                  "linear_sum_assignment: cost matrix contains NaN or -inf");
  }
  LinearAssignment out;
  if (num_rows == 0 || num_cols == 0) return out;
  // The solver needs rows <= cols: solve the transpose otherwise.
  const bool transpose = num_cols < num_rows;
  std::vector<double> t;
  const double* c = cost.data();
  int64_t nr = num_rows, nc = num_cols;
  if (transpose) {
    t.resize(cost.size());
    for (int64_t i = 0; i < num_rows; ++i)
      for (int64_t j = 0; j < num_cols; ++j) t[j * num_rows + i] = cost[i * num_cols + j];
    c = t.data();
    std::swap(nr, nc);
  }
  LsaState s(c, nr, nc);
  INSTSEG_CHECK(s.solve(), "linear_sum_assignment: cost matrix is infeasible");
  out.rows.resize(nr);
  out.cols.resize(nr);
  if (!transpose) {
    for (int64_t i = 0; i < nr; ++i) {
      out.rows[i] = i;
      out.cols[i] = s.col4row[i];
    }
  } else {
    // Rows of the original problem are the transposed problem's columns:
    // report them in increasing order.
    std::vector<int64_t> order(nr);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](int64_t a, int64_t b) { return s.col4row[a] < s.col4row[b]; });
    for (int64_t k = 0; k < nr; ++k) {
      out.rows[k] = s.col4row[order[k]];
      out.cols[k] = order[k];
    }
  }
  return out;
}

LinearAssignment linear_sum_assignment(const at::Tensor& cost) {
  INSTSEG_CHECK(cost.dim() == 2, "linear_sum_assignment: cost must be 2-D, got ", cost.sizes());
  INSTSEG_CHECK(at::isFloatingType(cost.scalar_type()),
                "linear_sum_assignment: cost must be floating point, got ", cost.scalar_type());
  auto c = cost.detach().to(at::kCPU, at::kDouble).contiguous();
  std::vector<double> v(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  return linear_sum_assignment(v, cost.size(0), cost.size(1));
}

}  // namespace instseg
