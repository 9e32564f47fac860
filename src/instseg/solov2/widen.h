// Net2WiderNet (Chen, Goodfellow & Shlens, "Net2Net", ICLR 2016) for SOLOv2:
// the weights of a trained SOLOv2 copied into a wider SOLOv2 (more channels in
// the ResNet backbone, the FPN and/or the head; same depths, same class count)
// such that the wider network computes the same function. Training then goes
// on from the trained model's accuracy with the extra capacity, instead of a
// wider model starting from random initialisation (docs/nuclei_demo.md: a
// random wider head needed hundreds of epochs to come back to where the
// trained narrow one was).
//
// Every channel space of s channels that becomes n >= s channels maps new
// channel j to old channel floor(j * s / n) (n = 2s: 0,0,1,1,2,2,...):
//  - a layer producing the space copies the old channel's output weights
//    (conv rows, bias, BatchNorm / GroupNorm affine and running statistics);
//  - a layer consuming it divides each input column by the old channel's copy
//    count, so the sum over the copies equals the old input;
//  - GroupNorm: with an integer factor n = k*s the copies of a channel stay in
//    its group and every group holds k copies of its old values, so the group
//    mean and variance are unchanged; other factors are rejected for
//    GroupNorm'd spaces (the head's). BatchNorm is per channel: any n >= s.
//  - the SOLOv2 specifics: the last two inputs of the coordinate convs
//    (mask_head.kernel_convs.0 and the mask feature head's last level's conv0)
//    are the x/y coordinates and stay as they are; the dynamic kernel (the
//    output of mask_head.conv_kernel, D values) is contracted with the D mask
//    features outside any layer, so its copies are divided by their count
//    as well (both sides copied, one side divided: the dot product is kept);
//    mask_head.conv_cls's outputs are the classes and must not change.
// With noise > 0 the copies' incoming weights (every copy but the first of an
// old channel) get N(0, (noise * std of the source tensor)^2) added: without
// it two copies receive identical gradients forever and the extra channels
// never become different features (Net2Net section 2.2).
#pragma once
#include "instseg/structures/tensor_dict.h"

#include <cstdint>

namespace instseg {

struct WidenOptions {
  double noise = 0.0;  // relative std of the symmetry-breaking noise on copies (0: exact copy)
  uint64_t seed = 0;   // of the noise
};

// `source`: a SOLOv2 state dict (mmdetection keys; ResNet backbones without
// groups). `target`: the wider model's state dict (module_state_dict of a
// freshly built model): its keys, shapes and dtypes; its values are not read.
// Returns a new dict with target's keys in target's order. Throws
// instseg::Error naming the key when the target has a key the source lacks or
// vice versa, a dimension shrinks, a kernel size or the class count differs, or
// a GroupNorm'd space grows by a non-integer factor.
TensorDict widen_solov2_state_dict(const TensorDict& source, const TensorDict& target,
                                   const WidenOptions& options = {});

}  // namespace instseg
