#!/usr/bin/python3
"""Oracle fixtures for instseg's RoIAlign (tests/ops/test_roi_align.cpp).

Runs Debian's python3-torchvision `roi_align` (float64, CPU) on seeded random
inputs and saves inputs, outputs and input gradients (for a random upstream
gradient) as a plain dict of tensors (torch::pickle_load reads it).
Regenerate: /usr/bin/python3 tests/data/ops/make_roi_align_fixture.py
"""
import os

import torch
from torchvision.ops import roi_align

torch.manual_seed(20240611)
out = {}


def rand_rois(n, batch, h, w, scale, outside=True):
    # Boxes in input pixels; some reach past the map by up to a third of it.
    lo = -0.3 if outside else 0.0
    hi = 1.3 if outside else 1.0
    x = (torch.rand(n, 2, dtype=torch.float64) * (hi - lo) + lo) * (w / scale)
    y = (torch.rand(n, 2, dtype=torch.float64) * (hi - lo) + lo) * (h / scale)
    x1, x2 = x.min(1).values, x.max(1).values
    y1, y2 = y.min(1).values, y.max(1).values
    b = torch.randint(0, batch, (n,)).double()
    return torch.stack([b, x1, y1, x2, y2], 1)


cases = [
    # name, (N,C,H,W), K, out (h,w), spatial_scale, sampling_ratio, aligned
    ("feat_s2", (2, 3, 10, 12), 9, (7, 7), 0.25, 2, True),
    ("adaptive", (1, 2, 16, 13), 7, (5, 4), 1.0, 0, True),
    ("unaligned", (2, 2, 9, 11), 6, (3, 3), 0.5, 2, False),
    ("unaligned_adaptive", (1, 3, 8, 8), 5, (4, 4), 1.0, 0, False),
    ("mask28", (1, 1, 40, 50), 4, (28, 28), 1.0, 0, True),
    ("empty", (1, 2, 6, 6), 0, (7, 7), 1.0, 2, True),
]
names = []
for name, (n, c, h, w), k, (oh, ow), scale, sr, aligned in cases:
    x = torch.randn(n, c, h, w, dtype=torch.float64, requires_grad=True)
    rois = rand_rois(k, n, h, w, scale) if k > 0 else torch.zeros(0, 5, dtype=torch.float64)
    if name == "feat_s2":
        # A tiny box, a box fully outside and a degenerate (zero-width) box.
        rois[0, 1:] = torch.tensor([3.0, 4.0, 3.5, 4.2])
        rois[1, 1:] = torch.tensor([-40.0, -30.0, -20.0, -10.0])
        rois[2, 1:] = torch.tensor([10.0, 5.0, 10.0, 25.0])
    y = roi_align(x, rois, (oh, ow), spatial_scale=scale, sampling_ratio=sr, aligned=aligned)
    g = torch.randn_like(y)
    if k > 0:
        y.backward(g)
        gx = x.grad.detach().clone()
    else:
        gx = torch.zeros_like(x)
    p = name + "."
    out[p + "input"] = x.detach()
    out[p + "rois"] = rois
    out[p + "output"] = y.detach()
    out[p + "grad_output"] = g
    out[p + "grad_input"] = gx
    out[p + "params"] = torch.tensor([oh, ow, sr, int(aligned)], dtype=torch.int64)
    out[p + "spatial_scale"] = torch.tensor([scale], dtype=torch.float64)
    names.append(name)

# float32 path: same kernel, single precision (checked for bit-level closeness).
x32 = torch.randn(1, 4, 20, 24)
r32 = rand_rois(10, 1, 20, 24, 0.125).float()
out["f32.input"] = x32
out["f32.rois"] = r32
out["f32.output"] = roi_align(x32, r32, (7, 7), spatial_scale=0.125, sampling_ratio=2, aligned=True)

# Multi-level extraction (mmdet SingleRoIExtractor, finest_scale 56): 4 levels
# with strides 4..32 of a 128x160 input; box sizes span all four levels.
feats = [torch.randn(2, 3, 128 // s, 160 // s, dtype=torch.float64) for s in (4, 8, 16, 32)]
sizes = torch.tensor([20.0, 111.9, 112.1, 150.0, 223.0, 230.0, 400.0, 460.0, 700.0, 8.0])
cx = torch.rand(len(sizes), dtype=torch.float64) * 160
cy = torch.rand(len(sizes), dtype=torch.float64) * 128
ml_rois = torch.stack([torch.tensor([0, 1, 0, 1, 1, 0, 0, 1, 0, 1], dtype=torch.float64),
                       cx - sizes / 2, cy - sizes / 2.4, cx + sizes / 2, cy + sizes / 1.7], 1)
scale = torch.sqrt((ml_rois[:, 3] - ml_rois[:, 1]) * (ml_rois[:, 4] - ml_rois[:, 2]))
lvls = torch.floor(torch.log2(scale / 56 + 1e-6)).clamp(min=0, max=3).long()
ml_out = torch.zeros(len(sizes), 3, 7, 7, dtype=torch.float64)
for l, s in enumerate((4, 8, 16, 32)):
    m = lvls == l
    if m.any():
        ml_out[m] = roi_align(feats[l], ml_rois[m], (7, 7), spatial_scale=1.0 / s,
                              sampling_ratio=2, aligned=True)
for l in range(4):
    out["mlvl.feat%d" % l] = feats[l]
out["mlvl.rois"] = ml_rois
out["mlvl.levels"] = lvls
out["mlvl.output"] = ml_out

torch.save(out, os.path.join(os.path.dirname(os.path.abspath(__file__)), "roi_align_cases.pt"))
print("cases:", " ".join(names))
