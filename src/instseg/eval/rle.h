// COCO run-length encoding with pycocotools (common/maskApi.c) semantics,
// written for instseg. Runs are column-major (Fortran order) and start with a
// run of zeros. Functions work on runs, not pixels, wherever maskApi.c does.
//
// Interface shared by the evaluator and the data pipeline; keep it stable.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace instseg::rle {

// Limits (errors, instseg::Error, before anything is allocated): masks of at
// most 2^32-1 pixels (runs are 32-bit, as in maskApi.c), polygon outlines of
// at most kMaxPolygonWalk points at the 5x scale rleFrPoly walks them.
constexpr uint64_t kMaxPolygonWalk = uint64_t{1} << 25;
// Throws unless h, w >= 0 and h * w <= 2^32-1 (`what` starts the message).
void check_size(int64_t h, int64_t w, const char* what);

struct Rle {
  int64_t h = 0, w = 0;
  std::vector<uint32_t> counts;  // alternating zero/one runs, column-major, sum = h*w
};

// A row-major HxW mask (nonzero = foreground) -> RLE (column-major runs).
Rle encode(const uint8_t* mask_rowmajor, int64_t h, int64_t w);
// A column-major (Fortran order) mask -> RLE, as maskUtils.encode.
Rle encode_colmajor(const uint8_t* mask_colmajor, int64_t h, int64_t w);
// RLE -> row-major HxW mask of 0/1 written to out (h*w bytes).
void decode(const Rle& r, uint8_t* out_rowmajor);

// Compressed string form (rleToString / rleFrString). from_string throws
// instseg::Error naming the position of a malformed character.
std::string to_string(const Rle& r);
Rle from_string(const std::string& s, int64_t h, int64_t w);
// The same into *out, reusing the capacity of its runs (the evaluator decodes
// detections' strings into scratch memory, see eval::EvalDet::mask_string).
void from_string(const std::string& s, int64_t h, int64_t w, Rle* out);
// Uncompressed `counts` list (COCO "iscrowd" style). Throws if sum != h*w.
Rle from_counts(const std::vector<uint32_t>& counts, int64_t h, int64_t w);

uint64_t area(const Rle& r);
// [x, y, w, h] as rleToBbox (doubles, integral values).
void to_bbox(const Rle& r, double bbox[4]);
// rleFrBbox: box [x, y, w, h] -> RLE of the (clipped) rectangle polygon.
Rle from_bbox(const double bbox[4], int64_t h, int64_t w);
// rleFrPoly: one polygon [x0,y0,x1,y1,...] (at least 3 points) -> RLE.
Rle from_polygon(const std::vector<double>& xy, int64_t h, int64_t w);
// frPyObjects + merge for a COCO polygon list: the union of the parts.
Rle from_polygons(const std::vector<std::vector<double>>& polys, int64_t h, int64_t w);
// rleMerge: union (intersect=false) or intersection of same-size RLEs.
Rle merge(const std::vector<Rle>& rs, bool intersect);

// rleIou: ious[i * gt.size() + j] for detection i, ground truth j; for a
// crowd GT the denominator is the detection's area.
std::vector<double> iou(const std::vector<Rle>& dt, const std::vector<Rle>& gt,
                        const std::vector<uint8_t>& gt_iscrowd);
// bbIou on [x, y, w, h] boxes with the same crowd rule.
std::vector<double> bbox_iou(const std::vector<std::array<double, 4>>& dt,
                             const std::vector<std::array<double, 4>>& gt,
                             const std::vector<uint8_t>& gt_iscrowd);

}  // namespace instseg::rle
