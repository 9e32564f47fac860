// Single-pair kernels shared by rle.cpp and the evaluator (not a public API).
#pragma once
#include "instseg/eval/rle.h"

namespace instseg::rle::detail {

// bbIou (maskApi.c) for one detection box D and one GT box G, [x, y, w, h].
double box_iou(const double* D, const double* G, bool crowd);
// rleIou (maskApi.c) for one pair, given both masks' rleToBbox boxes: the box
// IoU prefilter, -1 for different sizes, then the run walk.
double mask_iou(const Rle& dt, const Rle& gt, const double* dt_box, const double* gt_box, bool crowd);

}  // namespace instseg::rle::detail
