#!/usr/bin/python3
"""Oracle fixtures for instseg's linear_sum_assignment (tests/matchers).

scipy.optimize.linear_sum_assignment (python3-scipy) on seeded random costs:
square, wide (more columns) and tall (more rows, i.e. more GTs than queries),
continuous and small-integer (many ties) values, and one with +inf entries.
Saved as a plain dict of tensors: case{i}.cost [R,C] float64, case{i}.rows,
case{i}.cols int64, case{i}.total float64; "num_cases".
Regenerate: /usr/bin/python3 tests/data/matchers/make_hungarian_fixture.py
"""
import os

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

rng = np.random.default_rng(5151)
shapes = [(1, 1), (1, 7), (7, 1), (5, 5), (20, 6), (6, 20), (100, 6), (6, 100), (30, 45),
          (45, 30), (100, 100), (3, 300)]
out = {}
i = 0
for r, c in shapes:
    for kind in ("normal", "ties"):
        if kind == "normal":
            cost = rng.normal(size=(r, c)) * 3.0
        else:
            cost = rng.integers(0, 4, size=(r, c)).astype(np.float64)
        rows, cols = linear_sum_assignment(cost)
        out["case%d.cost" % i] = torch.from_numpy(cost)
        out["case%d.rows" % i] = torch.from_numpy(rows.astype(np.int64))
        out["case%d.cols" % i] = torch.from_numpy(cols.astype(np.int64))
        out["case%d.total" % i] = torch.tensor([cost[rows, cols].sum()], dtype=torch.float64)
        i += 1
# Forbidden pairs (+inf) that still leave a feasible matching.
cost = rng.uniform(size=(6, 9))
cost[0, :8] = np.inf
cost[3, 2:] = np.inf
rows, cols = linear_sum_assignment(cost)
out["case%d.cost" % i] = torch.from_numpy(cost)
out["case%d.rows" % i] = torch.from_numpy(rows.astype(np.int64))
out["case%d.cols" % i] = torch.from_numpy(cols.astype(np.int64))
out["case%d.total" % i] = torch.tensor([cost[rows, cols].sum()], dtype=torch.float64)
i += 1
# A constant matrix: scipy returns the identity-like matching.
cost = np.ones((4, 6))
rows, cols = linear_sum_assignment(cost)
out["case%d.cost" % i] = torch.from_numpy(cost)
out["case%d.rows" % i] = torch.from_numpy(rows.astype(np.int64))
out["case%d.cols" % i] = torch.from_numpy(cols.astype(np.int64))
out["case%d.total" % i] = torch.tensor([cost[rows, cols].sum()], dtype=torch.float64)
i += 1
out["num_cases"] = torch.tensor([i], dtype=torch.int64)
torch.save(out, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lsa_cases.pt"))
print(i, "cases")
