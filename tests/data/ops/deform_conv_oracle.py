#!/usr/bin/python3
"""Oracle for instseg's deformable convolution (tests/ops/test_deform_conv.cpp).

Runs Debian's python3-torchvision `deform_conv2d` (float64, CPU) on seeded
random cases and writes inputs, outputs and the gradients of every input for a
random upstream gradient to OUT (a plain dict of tensors; torch::pickle_load
reads it). The test runs this at test time, so nothing large is committed:
  /usr/bin/python3 tests/data/ops/deform_conv_oracle.py OUT.pt
"""
import sys

try:
    import torch
    from torchvision.ops import deform_conv2d
except ImportError as e:
    print("deform_conv_oracle: %s" % e, file=sys.stderr)
    sys.exit(77)  # the test skips

torch.manual_seed(20240614)
out = {}


def check_layout():
    # torchvision's offset layout is (dy, dx) per kernel tap, like mmcv's: a 1x1
    # kernel with offset (dy=1, dx=0) reads the next row, (0, 1) the next column.
    x = torch.arange(20, dtype=torch.float64).view(1, 1, 4, 5)
    w = torch.ones(1, 1, 1, 1, dtype=torch.float64)
    dy = torch.zeros(1, 2, 4, 5, dtype=torch.float64)
    dy[:, 0] = 1
    y = deform_conv2d(x, dy, w)
    assert torch.equal(y[0, 0, :3], x[0, 0, 1:]), "offset channel 0 is not dy"
    dx = torch.zeros(1, 2, 4, 5, dtype=torch.float64)
    dx[:, 1] = 1
    y = deform_conv2d(x, dx, w)
    assert torch.equal(y[0, 0, :, :4], x[0, 0, :, 1:]), "offset channel 1 is not dx"


def pair(v):
    return (v, v) if isinstance(v, int) else v


def out_size(n, k, s, p, d):
    return (n + 2 * p - (d * (k - 1) + 1)) // s + 1


# name, B, C, H, W, Cout, (kh, kw), stride, padding, dilation, groups, deform_groups,
# offset kind, modulated (mask), bias
cases = [
    ("basic", 2, 4, 6, 7, 5, (3, 3), 1, 1, 1, 1, 1, "normal", True, True),
    ("groups_dg_stride2", 1, 8, 9, 8, 6, (3, 3), 2, 1, 1, 2, 4, "normal", True, True),
    ("dilation2", 2, 6, 10, 9, 6, (3, 3), 1, 2, 2, 3, 2, "normal", True, False),
    ("rect_kernel", 1, 3, 7, 11, 4, (2, 3), (2, 1), (0, 1), (1, 2), 1, 3, "normal", True, True),
    ("outside", 2, 4, 5, 6, 4, (3, 3), 1, 1, 1, 2, 2, "outside", True, True),
    ("integer", 1, 4, 5, 6, 3, (3, 3), 1, 1, 1, 1, 2, "integer", True, True),
    ("v1", 2, 4, 6, 5, 6, (3, 3), 1, 1, 1, 2, 2, "normal", False, False),
    ("v1_integer", 1, 4, 5, 6, 2, (3, 3), 2, 1, 1, 1, 1, "integer", False, False),
    ("k1_stride2", 1, 5, 6, 6, 3, (1, 1), 2, 0, 1, 1, 1, "normal", True, True),
]
names = []
for (name, b, c, h, w, cout, (kh, kw), stride, padding, dilation, groups, dg, kind, modulated,
     with_bias) in cases:
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    dh, dw = pair(dilation)
    ho, wo = out_size(h, kh, sh, ph, dh), out_size(w, kw, sw, pw, dw)
    x = torch.randn(b, c, h, w, dtype=torch.float64)
    shape = (b, 2 * dg * kh * kw, ho, wo)
    if kind == "normal":
        off = torch.randn(shape, dtype=torch.float64) * 2
    elif kind == "outside":
        # Many samples beyond the border, some in the (-1, 0) / (H-1, H) bands.
        off = torch.randn(shape, dtype=torch.float64) * 6
    else:
        # Samples on exact pixel positions, including -1, H and W.
        off = torch.randint(-3, 4, shape).double()
    mask = torch.rand(b, dg * kh * kw, ho, wo, dtype=torch.float64) if modulated else None
    weight = torch.randn(cout, c // groups, kh, kw, dtype=torch.float64)
    bias = torch.randn(cout, dtype=torch.float64) if with_bias else None
    leaves = [t for t in (x, off, mask, weight, bias) if t is not None]
    for t in leaves:
        t.requires_grad_(True)
    y = deform_conv2d(x, off, weight, bias, stride=(sh, sw), padding=(ph, pw),
                      dilation=(dh, dw), mask=mask)
    g = torch.randn_like(y)
    y.backward(g)
    p = name + "."
    out[p + "input"] = x.detach()
    out[p + "offset"] = off.detach()
    out[p + "weight"] = weight.detach()
    out[p + "output"] = y.detach()
    out[p + "grad_output"] = g
    out[p + "grad_input"] = x.grad
    out[p + "grad_offset"] = off.grad
    out[p + "grad_weight"] = weight.grad
    if modulated:
        out[p + "mask"] = mask.detach()
        out[p + "grad_mask"] = mask.grad
    if with_bias:
        out[p + "bias"] = bias.detach()
        out[p + "grad_bias"] = bias.grad
    out[p + "params"] = torch.tensor([sh, sw, ph, pw, dh, dw, groups, dg, int(modulated),
                                      int(with_bias)], dtype=torch.int64)
    names.append(name)

# float32: the same kernel in single precision.
x32 = torch.randn(2, 8, 12, 10)
off32 = torch.randn(2, 2 * 2 * 9, 12, 10) * 2
mask32 = torch.rand(2, 2 * 9, 12, 10)
w32 = torch.randn(6, 4, 3, 3)
b32 = torch.randn(6)
out["f32.input"] = x32
out["f32.offset"] = off32
out["f32.mask"] = mask32
out["f32.weight"] = w32
out["f32.bias"] = b32
out["f32.output"] = deform_conv2d(x32, off32, w32, b32, padding=(1, 1), mask=mask32)

check_layout()
out["names"] = torch.tensor([0])  # presence marker
torch.save(out, sys.argv[1])
print("cases:", " ".join(names))
