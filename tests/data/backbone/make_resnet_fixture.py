#!/usr/bin/python3
"""Oracle for tests/backbone/test_resnet.cpp: torchvision ResNet-18 / ResNet-50 outputs.

Approach (keeps the committed data small): every weight, BN buffer and the input are
filled by a deterministic integer formula that the C++ test reproduces bit-exactly
with the same LibTorch integer/float64 operations (see fill_values() here and
fill_values() in tests/backbone/test_resnet.cpp). Only the C2..C5 outputs (plus two
filled tensors, to check that both sides fill identically) are committed.

torchvision's ResNet (v1.5: stride on the 3x3 conv2 of the Bottleneck) is mmdet's
ResNet with style='pytorch'; the state-dict names are the same (torchvision adds fc.*).

Run: /usr/bin/python3 tests/data/backbone/make_resnet_fixture.py   (torch 1.13, torchvision 0.14)
Writes tests/data/backbone/resnet_tv_parity.pt, a plain dict of tensors (zip format).
"""
import os

import torch
import torchvision

M = 2147483648  # 2^31


def fnv1a32(name: str) -> int:
    h = 2166136261
    for b in name.encode("ascii"):
        h ^= b
        h = (h * 16777619) % 4294967296
    return h


def fill_values(name: str, numel: int) -> torch.Tensor:
    """u in [-0.5, 0.5), float64, depends on the tensor name and the element index."""
    h = fnv1a32(name) % M
    i = torch.arange(numel, dtype=torch.int64)
    t = (i * 1103515245 + h) % M
    t = (t * t + 12345) % M
    return t.to(torch.float64) / M - 0.5


def value_for(name: str, shape) -> torch.Tensor:
    numel = 1
    for s in shape:
        numel *= s
    u = fill_values(name, numel)
    leaf = name.rsplit(".", 1)[-1]
    if len(shape) == 4:  # conv weight: He-uniform-like, var 2 / fan_in
        fan_in = shape[1] * shape[2] * shape[3]
        v = u * 2.0 * (6.0 / fan_in) ** 0.5
    elif leaf == "weight":  # BN gamma in [0.5, 1)
        v = 0.75 + 0.5 * u
    elif leaf == "bias":
        v = 0.2 * u
    elif leaf == "running_mean":
        v = 0.2 * u
    elif leaf == "running_var":
        v = 1.0 + u
    else:
        raise ValueError(name)
    return v.to(torch.float32).reshape(shape)


def make_input(shape):
    u = fill_values("input", shape[0] * shape[1] * shape[2] * shape[3])
    return (4.0 * u).to(torch.float32).reshape(shape)


def run(model, x):
    sd = model.state_dict()
    new_sd = {}
    for k, v in sd.items():
        if k.startswith("fc.") or k.endswith("num_batches_tracked"):
            new_sd[k] = v
        else:
            new_sd[k] = value_for(k, list(v.shape))
    model.load_state_dict(new_sd)
    model.eval()
    outs = []
    with torch.no_grad():
        h = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
            h = layer(h)
            outs.append(h.clone())
    return new_sd, outs


def main():
    torch.set_num_threads(1)
    shape = [1, 3, 40, 72]  # odd sizes after /8, /16, /32 exercise conv rounding
    x = make_input(shape)
    out = {"input_shape": torch.tensor(shape, dtype=torch.int64),
           "input_head": x.flatten()[:16].clone()}
    for depth, ctor in ((18, torchvision.models.resnet18), (50, torchvision.models.resnet50)):
        sd, outs = run(ctor(), x)
        for i, o in enumerate(outs):
            out[f"r{depth}.c{i + 2}"] = o
        if depth == 18:  # the same name (hence values) in both models
            out["check.conv1.weight"] = sd["conv1.weight"].clone()
        last = "layer4.1.bn2.running_var" if depth == 18 else "layer4.2.bn3.running_var"
        out[f"r{depth}.check.last_bn_running_var"] = sd[last].clone()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resnet_tv_parity.pt")
    torch.save(out, path)
    for k, v in out.items():
        print(k, tuple(v.shape), float(v.double().abs().max()))


if __name__ == "__main__":
    main()
