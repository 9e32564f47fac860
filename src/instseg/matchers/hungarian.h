// Exact linear sum assignment (minimum-cost bipartite matching) on CPU, the
// replacement for scipy.optimize.linear_sum_assignment.
//
// Algorithm: shortest augmenting paths with dual variables (Jonker-Volgenant
// style, as described by D.F. Crouse, "On implementing 2D rectangular
// assignment algorithms", IEEE TAES 2016), which is what scipy implements; the
// search order and tie-breaking follow scipy's so that equal-cost optima are
// resolved the same way.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace instseg {

struct LinearAssignment {
  // Matched pairs, min(R, C) of them, sorted by row (as scipy returns them).
  std::vector<int64_t> rows;
  std::vector<int64_t> cols;
};

// cost: row-major R x C. Rectangular in both directions; R or C may be 0.
// Entries may be +inf (forbidden) but not NaN or -inf; throws when no complete
// matching of the smaller side exists.
LinearAssignment linear_sum_assignment(const std::vector<double>& cost, int64_t num_rows,
                                       int64_t num_cols);

// cost [R,C] (any floating dtype, any device; solved in float64 on CPU).
LinearAssignment linear_sum_assignment(const at::Tensor& cost);

}  // namespace instseg
