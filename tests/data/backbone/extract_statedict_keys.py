#!/usr/bin/python3
"""Extracts the `backbone.` and `neck.` entries of the upstream state-dict key lists
(../shared/fixtures/{solov2,queryinst}/statedict_keys_*_r50_fpn_1x_coco.json, the
standard ResNet-50 + 256-channel FPN configs of mmdetection 3.3.0) into a small text
file for tests/backbone/test_statedict_keys.cpp.

Output lines: `<model> <key> <dtype> <comma-separated shape>` ("-" for a scalar),
in the upstream state_dict() order.
Run: /usr/bin/python3 tests/data/backbone/extract_statedict_keys.py [shared_dir]
"""
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "../../../../shared")
lines = []
for model, fname in (("solov2", "statedict_keys_solov2_r50_fpn_1x_coco.json"),
                     ("queryinst", "statedict_keys_queryinst_r50_fpn_1x_coco.json")):
    d = json.load(open(os.path.join(shared, "fixtures", model, fname)))
    for e in d["keys"]:
        if e["key"].startswith(("backbone.", "neck.")):
            shape = ",".join(str(s) for s in e["shape"]) or "-"
            lines.append(f"{model} {e['key']} {e['dtype']} {shape}")
with open(os.path.join(here, "statedict_keys_backbone_neck.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
print(len(lines), "lines")
