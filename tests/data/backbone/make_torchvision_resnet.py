"""Writes a torchvision-format ResNet state dict (fc.* included) with random
weights, as torchvision's resnetN(weights=None) and torch.save make it: the
file a user finds in ~/.cache/torch/hub/checkpoints/. BatchNorm affine
parameters and running statistics are randomised too, so that a test comparing
values sees every tensor. Exits 77 without torch/torchvision (the test skips).

    python3 make_torchvision_resnet.py 50 OUT.pth
"""
import sys

try:
    import torch
    import torchvision
except ImportError:
    sys.exit(77)

depth, out = sys.argv[1], sys.argv[2]
torch.manual_seed(int(depth))
model = getattr(torchvision.models, f"resnet{depth}")(weights=None)
with torch.no_grad():
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.1, 0.1)
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.num_batches_tracked.fill_(7)
torch.save(model.state_dict(), out)
