#!/usr/bin/python3
"""Expected state_dict() key lists of mmdetection 3.3's SOLOv2 zoo configs with
deformable convolutions and ResNeXt, for tests/config/test_zoo_statedict.cpp.

mmdetection is not installed here, so the lists are derived from its module
structure, restated as rules (no mmdet code is run or copied):
  * ResNet / ResNeXt (mmdet.models.backbones.resnet / resnext): stem conv1+bn1;
    stage i has planes 64*2^i and blocks (3,4,6,3) / (3,4,23,3) / (3,8,36,3);
    Bottleneck keys conv1, bn1, conv2, bn2, conv3, bn3, downsample.{0,1} (block
    0). ResNeXt's inner width is planes when groups == 1, else
    floor(planes * base_width / 64) * groups; conv2 has `groups` groups.
    `dcn=dict(type='DCNv2')` with stage_with_dcn[i] makes conv2 an mmcv
    ModulatedDeformConv2dPack(bias=False): keys conv2.weight,
    conv2.conv_offset.weight [3*dg*9, width, 3, 3], conv2.conv_offset.bias.
  * FPN: lateral_convs.i.conv (1x1, bias), fpn_convs.i.conv (3x3, bias).
  * SOLOV2Head: cls_convs / kernel_convs ConvModules (GN, no bias); with
    dcn_cfg, every tower conv (dcn_apply_to_all_conv) or only the last one is a
    DCNv2 in both towers; conv_cls, conv_kernel; MaskFeatModule levels
    convs_all_levels.i.conv{j} and conv_pred (1x1), all built with the mask
    feature head's conv_cfg (so DCNv2 adds conv_offset [3*9 or 3, in, k, k]).
The generator must reproduce the R-50 list that upstream mmdetection wrote
(../shared/fixtures/solov2/statedict_keys_solov2_r50_fpn_1x_coco.json, copied
to tests/data/solov2/) exactly before it writes anything.

Run: /usr/bin/python3 tests/data/solov2/make_statedict_keys.py
"""
import json
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))
BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


class Keys:
    def __init__(self):
        self.entries = []

    def param(self, key, shape):
        self.entries.append({"key": key, "shape": list(shape), "dtype": "float32"})

    def bn(self, prefix, c):
        self.param(prefix + ".weight", [c])
        self.param(prefix + ".bias", [c])
        self.param(prefix + ".running_mean", [c])
        self.param(prefix + ".running_var", [c])
        self.entries.append({"key": prefix + ".num_batches_tracked", "shape": [], "dtype": "int64"})

    def gn(self, prefix, c):
        self.param(prefix + ".weight", [c])
        self.param(prefix + ".bias", [c])

    def conv(self, prefix, cin, cout, k, groups=1, bias=False, dcn=False):
        """nn.Conv2d, or mmcv's ModulatedDeformConv2dPack when dcn (deform_groups 1)."""
        self.param(prefix + ".weight", [cout, cin // groups, k, k])
        if bias:
            self.param(prefix + ".bias", [cout])
        if dcn:
            self.param(prefix + ".conv_offset.weight", [3 * k * k, cin, k, k])
            self.param(prefix + ".conv_offset.bias", [3 * k * k])


def backbone(keys, depth, groups=1, base_width=4, stage_with_dcn=(False,) * 4):
    p = "backbone."
    keys.conv(p + "conv1", 3, 64, 7)
    keys.bn(p + "bn1", 64)
    inplanes = 64
    for i, n in enumerate(BLOCKS[depth]):
        planes = 64 * 2 ** i
        width = planes if groups == 1 else math.floor(planes * (base_width / 64)) * groups
        for b in range(n):
            q = p + "layer%d.%d." % (i + 1, b)
            cin = inplanes if b == 0 else planes * 4
            keys.conv(q + "conv1", cin, width, 1)
            keys.bn(q + "bn1", width)
            keys.conv(q + "conv2", width, width, 3, groups=groups, dcn=stage_with_dcn[i])
            keys.bn(q + "bn2", width)
            keys.conv(q + "conv3", width, planes * 4, 1)
            keys.bn(q + "bn3", planes * 4)
            if b == 0:
                keys.conv(q + "downsample.0", cin, planes * 4, 1)
                keys.bn(q + "downsample.1", planes * 4)
        inplanes = planes * 4


def neck(keys, in_channels=(256, 512, 1024, 2048), out=256):
    for i, c in enumerate(in_channels):
        keys.conv("neck.lateral_convs.%d.conv" % i, c, out, 1, bias=True)
    for i in range(len(in_channels)):
        keys.conv("neck.fpn_convs.%d.conv" % i, out, out, 3, bias=True)


def head(keys, num_classes=80, in_channels=256, feat=512, stacked=4, mask_feat=128,
         mask_out=256, dcn=False, dcn_all=True, mask_dcn=False):
    p = "mask_head."
    tower_dcn = [dcn and (dcn_all or i == stacked - 1) for i in range(stacked)]
    for i in range(stacked):
        cin = in_channels if i == 0 else feat
        keys.conv(p + "cls_convs.%d.conv" % i, cin, feat, 3, dcn=tower_dcn[i])
        keys.gn(p + "cls_convs.%d.gn" % i, feat)
    for i in range(stacked):
        cin = in_channels + 2 if i == 0 else feat
        keys.conv(p + "kernel_convs.%d.conv" % i, cin, feat, 3, dcn=tower_dcn[i])
        keys.gn(p + "kernel_convs.%d.gn" % i, feat)
    keys.conv(p + "conv_cls", feat, num_classes, 3, bias=True)
    keys.conv(p + "conv_kernel", feat, mask_out, 3, bias=True)
    m = p + "mask_feature_head."
    for level in range(4):  # start_level 0 .. end_level 3
        for j in range(max(1, level)):
            cin = mask_feat
            if j == 0:
                cin = in_channels + 2 if level == 3 else in_channels
            q = m + "convs_all_levels.%d.conv%d" % (level, j)
            keys.conv(q + ".conv", cin, mask_feat, 3, dcn=mask_dcn)
            keys.gn(q + ".gn", mask_feat)
    keys.conv(m + "conv_pred.conv", mask_feat, mask_out, 1, dcn=mask_dcn)
    keys.gn(m + "conv_pred.gn", mask_out)


def solov2(depth=50, groups=1, base_width=4, stage_with_dcn=(False,) * 4, **head_kw):
    k = Keys()
    backbone(k, depth, groups, base_width, stage_with_dcn)
    neck(k)
    head(k, **head_kw)
    return k.entries


def num_params(entries):
    n = 0
    for e in entries:
        if e["dtype"] == "float32" and not e["key"].endswith(("running_mean", "running_var")):
            n += math.prod(e["shape"])
    return n


def write(name, config, entries):
    d = {
        "config": config,
        "mmdet_version": "3.3.0",
        "note": "derived by tests/data/solov2/make_statedict_keys.py from mmdetection's module "
                "structure (not written by mmdetection); state_dict() order",
        "num_keys": len(entries),
        "num_params": num_params(entries),
        "keys": entries,
    }
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(d, f, indent=0)
        f.write("\n")
    print("%-55s %4d keys %11d parameters" % (name, len(entries), d["num_params"]))


# Self-check against the list upstream mmdetection wrote for solov2_r50_fpn_1x_coco.
upstream = json.load(open(os.path.join(HERE, "statedict_keys_solov2_r50_fpn_1x_coco.json")))
mine = solov2()
assert [(e["key"], e["shape"], e["dtype"]) for e in mine] == \
    [(e["key"], e["shape"], e["dtype"]) for e in upstream["keys"]], "R-50 list differs from mmdet's"
assert num_params(mine) == upstream["num_params"], (num_params(mine), upstream["num_params"])

DCN_STAGES = (False, True, True, True)
write("statedict_keys_solov2_r101-dcn_fpn_ms-3x_coco.json",
      "configs/solov2/solov2_r101-dcn_fpn_ms-3x_coco.py",
      solov2(101, stage_with_dcn=DCN_STAGES, dcn=True, dcn_all=True, mask_dcn=True))
write("statedict_keys_solov2_x101-dcn_fpn_ms-3x_coco.json",
      "configs/solov2/solov2_x101-dcn_fpn_ms-3x_coco.py",
      solov2(101, groups=64, base_width=4, stage_with_dcn=DCN_STAGES, dcn=True, dcn_all=True,
             mask_dcn=True))
write("statedict_keys_solov2-light_r50-dcn_fpn_ms-3x_coco.json",
      "configs/solov2/solov2-light_r50-dcn_fpn_ms-3x_coco.py",
      solov2(50, stage_with_dcn=DCN_STAGES, feat=256, stacked=3, mask_out=128, dcn=True,
             dcn_all=False))
