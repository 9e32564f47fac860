#!/usr/bin/env python3
"""Generates the checkpoint-reader fixtures in this folder (offline oracle only).

Run with Debian's python3-torch 1.13:  /usr/bin/python3 make_fixtures.py
Every case is written twice: <case>_zip.pth (torch.save default) and
<case>_legacy.pth (_use_new_zipfile_serialization=False, the model-zoo format).
Values follow simple patterns that tests/checkpoint/*.cpp recompute in C++.

It also writes shared_keys_<model>.txt for every ../shared/fixtures/<model>/checkpoint.pth:
one line per state_dict entry as Python torch.load sees it: key<TAB>dtype<TAB>d0,d1,...
"""
import collections
import os
import sys
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def save_both(name, obj):
    torch.save(obj, os.path.join(HERE, name + "_zip.pth"))
    torch.save(obj, os.path.join(HERE, name + "_legacy.pth"), _use_new_zipfile_serialization=False)


def arange(shape, dtype=torch.float32, start=0.0):
    n = 1
    for s in shape:
        n *= s
    return (torch.arange(n, dtype=torch.float64) + start).reshape(shape).to(dtype)


class Small(torch.nn.Module):
    """conv(3->4, 3x3, no bias) + bn(4) + linear(8->2): params, buffers, num_batches_tracked."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, bias=False)
        self.bn = torch.nn.BatchNorm2d(4)
        self.fc = torch.nn.Linear(8, 2)
        with torch.no_grad():
            for i, (_, p) in enumerate(sorted(self.state_dict().items())):
                if p.is_floating_point():
                    p.copy_(arange(p.shape, start=100.0 * i) / 1000.0)
            self.bn.num_batches_tracked.fill_(7)


def fake_mmengine_module():
    """A stand-in for mmengine.logging.history_buffer.HistoryBuffer (mmengine is not installed)."""
    names = ["mmengine", "mmengine.logging", "mmengine.logging.history_buffer"]
    for n in names:
        if n not in sys.modules:
            sys.modules[n] = types.ModuleType(n)

    class HistoryBuffer:
        def __init__(self, values):
            self._log_history = np.array(values, dtype=np.float64)
            self._count_history = np.ones(len(values))
            self.max_length = 1000000

    HistoryBuffer.__module__ = "mmengine.logging.history_buffer"
    HistoryBuffer.__qualname__ = "HistoryBuffer"
    sys.modules["mmengine.logging.history_buffer"].HistoryBuffer = HistoryBuffer
    return HistoryBuffer


def deflated_copy(src, dst):
    import zipfile
    with zipfile.ZipFile(os.path.join(HERE, src)) as zin, \
            zipfile.ZipFile(os.path.join(HERE, dst), "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            method = zipfile.ZIP_STORED if info.filename.endswith("/version") else zipfile.ZIP_DEFLATED
            zout.writestr(info.filename, data, compress_type=method)
    a = torch.load(os.path.join(HERE, src))
    b = torch.load(os.path.join(HERE, dst))
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])


def main():
    torch.manual_seed(0)

    # 1. plain dict of tensors (two keys -> SETITEMS)
    save_both("plain", {"a": arange([2, 3]), "b": arange([4], dtype=torch.int64, start=-2)})

    # 2. a module's state_dict(): an OrderedDict with _metadata
    model = Small()
    save_both("ordered", model.state_dict())

    # 3. single-key dict (SETITEM)
    save_both("single", {"only": arange([3], start=1.5)})

    # 4. nested meta with str / list / tuple / numpy / scalars / bytes / big int
    meta = {
        "mmdet_version": "3.3.0",
        "unicode": "caf\u00e9 \u2713",
        "epoch": 12,
        "neg": -5,
        "big": 2 ** 70,
        "lr": 0.02,
        "flag": True,
        "off": False,
        "nothing": None,
        "raw": b"\x00\x01\xffabc",
        "classes": ("ball", "kite", "box"),
        "palette": [[220, 20, 60], [119, 11, 32]],
        "nested": {"a": {"b": [1, 2.5, "x"]}, "empty_list": [], "empty_dict": {}},
        "np_array": np.arange(6, dtype=np.float32).reshape(2, 3),
        "np_scalar": np.float64(3.25),
        "np_int": np.int64(9),
        "ordered": collections.OrderedDict([("z", 1), ("y", 2)]),
        "device": torch.device("cpu"),
        "dtype": torch.float16,
        "size": torch.Size([2, 3]),
    }
    save_both("meta", {"meta": meta, "state_dict": collections.OrderedDict([("w", arange([2]))])})

    # 5. views sharing one storage
    base = arange([4, 6])
    flat = base.view(-1)
    save_both("views", {
        "base": base,
        "t": base.t(),                # stride (1, 6)
        "slice": base[1:3, ::2],      # offset 6, stride (6, 2)
        "off": flat[5:9],             # offset 5
        "expand": flat[2:3].expand(3, 4),  # stride (0, 0)
        "empty": flat[0:0],
    })

    # 6. dtypes
    save_both("dtypes", {
        "f16": arange([5], dtype=torch.float16, start=-2) / 4,
        "bf16": arange([5], dtype=torch.bfloat16, start=-2) / 4,
        "bool": torch.tensor([True, False, True, True, False]),
        "i64": arange([5], dtype=torch.int64, start=-(2 ** 40)),
        "u8": arange([5], dtype=torch.uint8, start=250),
        "i32": arange([5], dtype=torch.int32, start=-3),
        "i16": arange([5], dtype=torch.int16, start=-3),
        "i8": arange([5], dtype=torch.int8, start=-3),
        "f64": arange([5], dtype=torch.float64) / 3,
        "scalar": torch.tensor(2.5),
        "param": torch.nn.Parameter(arange([2, 2])),
    })

    # 7. a full mmdetection/mmengine-style training checkpoint
    HistoryBuffer = fake_mmengine_module()
    model = Small()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = arange([1, 3, 3, 4]) / 100.0  # conv -> [1, 4, 1, 2] -> 8 features
    model.bn.train()
    loss = model.fc(model.bn(model.conv(x)).flatten(1)).sum()
    loss.backward()
    opt.step()
    sd = model.state_dict()
    ckpt = {
        "meta": {
            "mmdet_version": "3.3.0",
            "epoch": 1,
            "iter": 1,
            "seed": np.int64(42),
            "dataset_meta": {"classes": ("ball", "kite", "box"), "palette": [(1, 2, 3)]},
            "cfg": "model = dict(type='SOLOv2')\n",
        },
        "state_dict": sd,
        "optimizer": opt.state_dict(),
        "message_hub": {"log_scalars": {"train/loss": HistoryBuffer([1.0, 0.5])},
                        "runtime_info": {"iter": 1}},
    }
    save_both("mmdet", ckpt)
    # Expected values for the mmdet case: written with numpy so the test need not recompute training.
    with open(os.path.join(HERE, "mmdet_expected.txt"), "w") as f:
        for k, v in sd.items():
            flat = v.detach().double().reshape(-1)
            f.write("%s\t%s\t%s\t%.17g\n" % (k, str(v.dtype).replace("torch.", ""),
                                            ",".join(str(s) for s in v.shape), float(flat.sum())))

    # 8. mmdet_zip re-zipped by a zip tool: records deflated, except the 2-byte
    # version (deflate cannot shrink it; Info-ZIP stores such files too).
    deflated_copy("mmdet_zip.pth", "mmdet_deflated.pth")

    # 9. the shared mmdetection checkpoints: key/shape/dtype lists as torch.load sees them
    shared = os.path.normpath(os.path.join(HERE, "..", "..", "..", "..", "shared", "fixtures"))
    if os.path.isdir(shared):
        for model_name in sorted(os.listdir(shared)):
            path = os.path.join(shared, model_name, "checkpoint.pth")
            if not os.path.isfile(path):
                continue
            ck = torch.load(path, map_location="cpu")
            with open(os.path.join(HERE, "shared_keys_%s.txt" % model_name), "w") as f:
                for k, v in ck["state_dict"].items():
                    f.write("%s\t%s\t%s\n" % (k, str(v.dtype).replace("torch.", ""),
                                              ",".join(str(s) for s in v.shape)))


if __name__ == "__main__":
    main()
