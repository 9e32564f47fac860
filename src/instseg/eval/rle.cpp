// COCO RLE with pycocotools (common/maskApi.c) semantics. Every function
// reproduces maskApi.c's arithmetic (uint32 runs, double boxes) so that
// strings, areas, boxes and IoUs match it bit for bit; see rle.h.
#include "instseg/eval/rle.h"

#include "instseg/eval/rle_internal.h"

#include "instseg/core/require.h"

#include <algorithm>
#include <cmath>

namespace instseg::rle {

namespace {

// Appends the runs of a flat byte sequence (any nonzero = 1), as rleEncode.
void encode_flat(const uint8_t* m, int64_t n, std::vector<uint32_t>& cnts) {
  uint8_t p = 0;
  uint32_t c = 0;
  for (int64_t j = 0; j < n; ++j) {
    const uint8_t v = m[j] ? 1 : 0;
    if (v != p) {
      cnts.push_back(c);
      c = 0;
      p = v;
    }
    ++c;
  }
  cnts.push_back(c);
}

}  // namespace

void check_size(int64_t h, int64_t w, const char* what) {
  int64_t hw = 0;
  if (h < 0 || w < 0) fail(what, ": negative mask size ", h, "x", w);
  if (__builtin_mul_overflow(h, w, &hw) || hw > static_cast<int64_t>(UINT32_MAX))
    fail(what, ": mask size ", h, "x", w, " is more than 2^32-1 pixels (pycocotools' limit)");
}

Rle encode_colmajor(const uint8_t* mask, int64_t h, int64_t w) {
  INSTSEG_REQUIRE(h >= 0 && w >= 0, "rle::encode: negative size ", h, "x", w);
  Rle r;
  r.h = h;
  r.w = w;
  encode_flat(mask, h * w, r.counts);
  return r;
}

Rle encode(const uint8_t* mask, int64_t h, int64_t w) {
  INSTSEG_REQUIRE(h >= 0 && w >= 0, "rle::encode: negative size ", h, "x", w);
  Rle r;
  r.h = h;
  r.w = w;
  // An empty mask is one run of 0 (pycocotools); returning early also keeps
  // a 0 x 1e9 mask from walking a billion empty columns of a null pointer.
  if (h == 0 || w == 0) {
    r.counts.push_back(0);
    return r;
  }
  // Walk columns of the row-major mask directly; no transposed copy.
  uint8_t p = 0;
  uint32_t c = 0;
  for (int64_t x = 0; x < w; ++x) {
    const uint8_t* col = mask + x;
    for (int64_t y = 0; y < h; ++y) {
      const uint8_t v = col[y * w] ? 1 : 0;
      if (v != p) {
        r.counts.push_back(c);
        c = 0;
        p = v;
      }
      ++c;
    }
  }
  r.counts.push_back(c);
  return r;
}

void decode(const Rle& r, uint8_t* out) {
  const int64_t n = r.h * r.w;
  std::fill(out, out + n, uint8_t{0});
  if (r.h == 0) return;
  // Only foreground runs are written; position p is (y = p % h, x = p / h).
  int64_t pos = 0;
  for (size_t j = 0; j < r.counts.size(); ++j) {
    const int64_t c = r.counts[j];
    if (j % 2 == 1) {
      INSTSEG_REQUIRE(pos + c <= n, "rle::decode: runs exceed ", r.h, "x", r.w);
      for (int64_t p = pos; p < pos + c; ++p) out[(p % r.h) * r.w + p / r.h] = 1;
    }
    pos += c;
  }
}

std::string to_string(const Rle& r) {
  // rleToString: LEB128-like, 5 data bits per char, offset 48; from index 3 on
  // the delta to counts[i-2] is written.
  std::string s;
  s.reserve(r.counts.size() * 2);
  for (size_t i = 0; i < r.counts.size(); ++i) {
    int64_t x = r.counts[i];
    if (i > 2) x -= static_cast<int64_t>(r.counts[i - 2]);
    bool more = true;
    while (more) {
      char c = static_cast<char>(x & 0x1f);
      x >>= 5;  // arithmetic shift, as on `long` in maskApi.c
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      s.push_back(static_cast<char>(c + 48));
    }
  }
  return s;
}

namespace {

// rleFrString for a well-formed string: false (r.counts unspecified) at the
// first problem, which from_string's checked loop then reports. Two passes:
// the first checks the alphabet and counts the runs (every character without
// the continuation bit ends one), so the runs are allocated once at their
// exact size; an RLE takes 4 bytes per run for as long as the evaluation
// runs, and reserving one run per character (as before) tripled the memory
// and the page faults of 50 000 decoded detections.
bool from_string_fast(const std::string& s, uint64_t hw, Rle& r) {
  const auto* c = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t runs = 0;
  unsigned bad = 0;
  for (size_t p = 0; p < n; ++p) {
    const unsigned v = c[p] - 48u;  // wraps for characters below '0'
    bad |= v >> 6;                  // nonzero unless v < 64
    runs += (v & 0x20) == 0;
  }
  if (bad || (n > 0 && (c[n - 1] - 48u) & 0x20)) return false;
  r.counts.resize(runs);
  uint32_t* out = r.counts.data();
  uint64_t total = 0;
  size_t p = 0;
  // counts[m-2] and counts[m-1] stay in registers: reading them back from
  // `out` put a store-to-load round trip into every run's dependency chain.
  int64_t back2 = 0, back1 = 0;
  for (size_t m = 0; m < runs; ++m) {
    unsigned v = c[p++] - 48u;
    int64_t x;
    if (!(v & 0x20)) {
      // One character (almost every run of a detection's mask): 5 bits, bit 4
      // the sign. Without a branch: the sign of a delta is a coin toss.
      x = static_cast<int64_t>(v) - static_cast<int64_t>((v & 0x10) << 1);
    } else {
      x = v & 0x1f;
      int k = 1;
      do {
        if (k >= 7) return false;
        v = c[p++] - 48u;
        x |= static_cast<int64_t>(v & 0x1f) << (5 * k);
        ++k;
      } while (v & 0x20);
      if (v & 0x10) x |= static_cast<int64_t>(-1) * (int64_t{1} << (5 * k));
    }
    if (m > 2) x += back2;
    // Negative or above 2^32-1: the checked decoder says which.
    if (static_cast<uint64_t>(x) > UINT32_MAX) return false;
    out[m] = static_cast<uint32_t>(x);
    total += static_cast<uint64_t>(x);
    back2 = back1;
    back1 = x;
  }
  return total == hw;
}

}  // namespace

Rle from_string(const std::string& s, int64_t h, int64_t w) {
  Rle r;
  from_string(s, h, w, &r);
  return r;
}

void from_string(const std::string& s, int64_t h, int64_t w, Rle* out) {
  check_size(h, w, "RLE string");
  Rle& r = *out;
  r.h = h;
  r.w = w;
  if (from_string_fast(s, static_cast<uint64_t>(h * w), r)) return;
  // Malformed: the character-by-character decoder names the first problem.
  r.counts.clear();
  size_t p = 0;
  uint64_t total = 0;
  while (p < s.size()) {
    const size_t start = p;
    int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      if (p >= s.size())
        fail("RLE string ends inside the count that starts at position ", start,
             " (last character has the continuation bit)");
      const int ch = static_cast<unsigned char>(s[p]);
      if (ch < 48 || ch > 111)
        fail("RLE string: character ", p, " ('", s[p], "', code ", ch,
             ") is outside the range '0'..'o'");
      if (k >= 7) fail("RLE string: count starting at position ", start, " is too long");
      const int c = ch - 48;
      x |= static_cast<int64_t>(c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= static_cast<int64_t>(-1) * (int64_t{1} << (5 * k));
    }
    if (r.counts.size() > 2) x += static_cast<int64_t>(r.counts[r.counts.size() - 2]);
    if (x < 0 || x > static_cast<int64_t>(UINT32_MAX))
      fail("RLE string: count ", r.counts.size(), " (position ", start, ") decodes to ", x,
           ", outside 0..2^32-1");
    r.counts.push_back(static_cast<uint32_t>(x));
    total += static_cast<uint64_t>(x);
  }
  if (total != static_cast<uint64_t>(h * w))
    fail("RLE string: runs sum to ", total, " but size is ", h, "x", w, " = ", h * w);
}

Rle from_counts(const std::vector<uint32_t>& counts, int64_t h, int64_t w) {
  check_size(h, w, "uncompressed RLE");
  uint64_t total = 0;
  for (uint32_t c : counts) total += c;
  if (total != static_cast<uint64_t>(h * w))
    fail("uncompressed RLE: counts sum to ", total, " but size is ", h, "x", w, " = ", h * w);
  Rle r;
  r.h = h;
  r.w = w;
  r.counts = counts;
  return r;
}

uint64_t area(const Rle& r) {
  // rleArea accumulates in uint32; masks are far below 2^32 pixels.
  uint32_t a = 0;
  for (size_t j = 1; j < r.counts.size(); j += 2) a += r.counts[j];
  return a;
}

void to_bbox(const Rle& r, double bb[4]) {
  const uint32_t h = static_cast<uint32_t>(r.h);
  const uint32_t w = static_cast<uint32_t>(r.w);
  const size_t m = (r.counts.size() / 2) * 2;
  uint32_t xs = w, ys = h, xe = 0, ye = 0, cc = 0, xp = 0;
  // An empty mask (maskApi.c divides by h = 0 here) has an empty box.
  if (m == 0 || h == 0 || w == 0) {
    bb[0] = bb[1] = bb[2] = bb[3] = 0;
    return;
  }
  // (cx, cy) = (cc / h, cc % h) kept incrementally: a division only when a
  // run crosses a column, not one per run.
  uint32_t cx = 0;
  uint64_t cy = 0;
  for (size_t j = 0; j < m; ++j) {
    cc += r.counts[j];
    cy += r.counts[j];
    if (cy >= h) {
      // Most runs cross at most one column boundary: no division for them.
      if (cy < 2 * uint64_t{h}) {
        cx += 1;
        cy -= h;
      } else {
        const uint64_t q = cy / h;
        cx += static_cast<uint32_t>(q);
        cy -= q * h;
      }
    }
    // t = cc - j % 2 (the last pixel of a foreground run), split as t % h and t / h.
    uint32_t x, y;
    if (j % 2 == 0) {
      x = cx;
      y = static_cast<uint32_t>(cy);
    } else if (cy > 0) {
      x = cx;
      y = static_cast<uint32_t>(cy) - 1;
    } else if (cc > 0) {
      x = cx - 1;
      y = h - 1;
    } else {  // t wraps to 2^32 - 1 in maskApi.c's uint arithmetic
      const uint32_t t = cc - 1;
      y = t % h;
      x = (t - y) / h;
    }
    if (j % 2 == 0) {
      xp = x;
    } else if (xp < x) {
      // The foreground run spans a column boundary: the box covers all rows.
      ys = 0;
      ye = h - 1;
    }
    xs = std::min(xs, x);
    xe = std::max(xe, x);
    ys = std::min(ys, y);
    ye = std::max(ye, y);
  }
  bb[0] = xs;
  bb[2] = xe - xs + 1;
  bb[1] = ys;
  bb[3] = ye - ys + 1;
}

Rle from_bbox(const double bb[4], int64_t h, int64_t w) {
  const double xs = bb[0], xe = xs + bb[2];
  const double ys = bb[1], ye = ys + bb[3];
  return from_polygon({xs, ys, xs, ye, xe, ye, xe, ys}, h, w);
}

Rle from_polygons(const std::vector<std::vector<double>>& polys, int64_t h, int64_t w) {
  check_size(h, w, "polygons");
  if (polys.empty()) {
    Rle r;
    r.h = h;
    r.w = w;
    r.counts.push_back(static_cast<uint32_t>(h * w));
    return r;
  }
  std::vector<Rle> parts;
  parts.reserve(polys.size());
  for (const auto& p : polys) parts.push_back(from_polygon(p, h, w));
  return merge(parts, false);
}

Rle merge(const std::vector<Rle>& rs, bool intersect) {
  // rleMerge, folding the inputs left to right exactly as maskApi.c does
  // (including its zero-length runs and the size-mismatch result h=w=0).
  Rle out;
  if (rs.empty()) return out;
  int64_t h = rs[0].h, w = rs[0].w;
  if (rs.size() == 1) return rs[0];
  std::vector<uint32_t> cnts(rs[0].counts), acc;
  for (size_t i = 1; i < rs.size(); ++i) {
    const Rle& B = rs[i];
    if (B.h != h || B.w != w) {
      h = w = 0;
      cnts.clear();
      break;
    }
    const std::vector<uint32_t>& A = cnts;
    acc.clear();
    uint32_t ca = A.empty() ? 0 : A[0], cb = B.counts.empty() ? 0 : B.counts[0];
    bool v = false, va = false, vb = false;
    size_t a = 1, b = 1;
    uint32_t cc = 0, ct = 1;
    while (ct > 0) {
      const uint32_t c = std::min(ca, cb);
      cc += c;
      ct = 0;
      ca -= c;
      if (!ca && a < A.size()) {
        ca = A[a++];
        va = !va;
      }
      ct += ca;
      cb -= c;
      if (!cb && b < B.counts.size()) {
        cb = B.counts[b++];
        vb = !vb;
      }
      ct += cb;
      const bool vp = v;
      v = intersect ? (va && vb) : (va || vb);
      if (v != vp || ct == 0) {
        acc.push_back(cc);
        cc = 0;
      }
    }
    cnts.swap(acc);
  }
  out.h = h;
  out.w = w;
  out.counts = std::move(cnts);
  return out;
}

namespace detail {

// bbIou for one pair (maskApi.c), also used as the prefilter of rleIou.
double box_iou(const double* D, const double* G, bool crowd) {
  const double ga = G[2] * G[3], da = D[2] * D[3];
  const double w = std::fmin(D[2] + D[0], G[2] + G[0]) - std::fmax(D[0], G[0]);
  if (w <= 0) return 0;
  const double h = std::fmin(D[3] + D[1], G[3] + G[1]) - std::fmax(D[1], G[1]);
  if (h <= 0) return 0;
  const double i = w * h;
  const double u = crowd ? da : da + ga - i;
  return i / u;
}

// rleIou's run walk for one pair: intersection and union pixel counts.
namespace {
inline void inter_union(const std::vector<uint32_t>& A, const std::vector<uint32_t>& B,
                        uint32_t& inter, uint32_t& uni) {
  uint32_t ca = A[0], cb = B[0], i = 0, u = 0, ct = 1;
  bool va = false, vb = false;
  size_t a = 1, b = 1;
  const size_t ka = A.size(), kb = B.size();
  while (ct > 0) {
    const uint32_t c = std::min(ca, cb);
    if (va || vb) {
      u += c;
      if (va && vb) i += c;
    }
    ct = 0;
    ca -= c;
    if (!ca && a < ka) {
      ca = A[a++];
      va = !va;
    }
    ct += ca;
    cb -= c;
    if (!cb && b < kb) {
      cb = B[b++];
      vb = !vb;
    }
    ct += cb;
  }
  inter = i;
  uni = u;
}

}  // namespace

double mask_iou(const Rle& dt, const Rle& gt, const double* db, const double* gb, bool crowd) {
  double out = box_iou(db, gb, crowd);
  if (!(out > 0)) return out;
  if (dt.h != gt.h || dt.w != gt.w) return -1;
  uint32_t i = 0, u = 0;
  inter_union(dt.counts, gt.counts, i, u);
  if (i == 0)
    u = 1;
  else if (crowd)
    u = static_cast<uint32_t>(area(dt));
  return static_cast<double>(i) / static_cast<double>(u);
}

}  // namespace detail

std::vector<double> iou(const std::vector<Rle>& dt, const std::vector<Rle>& gt,
                        const std::vector<uint8_t>& gt_iscrowd) {
  const size_t m = dt.size(), n = gt.size();
  INSTSEG_REQUIRE(gt_iscrowd.empty() || gt_iscrowd.size() == n,
                "rle::iou: iscrowd has ", gt_iscrowd.size(), " flags for ", n, " gt");
  std::vector<double> o(m * n, 0.0);
  if (m == 0 || n == 0) return o;
  std::vector<double> db(m * 4), gb(n * 4);
  for (size_t d = 0; d < m; ++d) to_bbox(dt[d], &db[d * 4]);
  for (size_t g = 0; g < n; ++g) to_bbox(gt[g], &gb[g * 4]);
  for (size_t g = 0; g < n; ++g) {
    const bool crowd = !gt_iscrowd.empty() && gt_iscrowd[g];
    for (size_t d = 0; d < m; ++d) {
      o[d * n + g] = detail::mask_iou(dt[d], gt[g], &db[d * 4], &gb[g * 4], crowd);
    }
  }
  return o;
}

std::vector<double> bbox_iou(const std::vector<std::array<double, 4>>& dt,
                             const std::vector<std::array<double, 4>>& gt,
                             const std::vector<uint8_t>& gt_iscrowd) {
  const size_t m = dt.size(), n = gt.size();
  INSTSEG_REQUIRE(gt_iscrowd.empty() || gt_iscrowd.size() == n,
                "rle::bbox_iou: iscrowd has ", gt_iscrowd.size(), " flags for ", n, " gt");
  std::vector<double> o(m * n, 0.0);
  for (size_t g = 0; g < n; ++g) {
    const bool crowd = !gt_iscrowd.empty() && gt_iscrowd[g];
    for (size_t d = 0; d < m; ++d) o[d * n + g] = detail::box_iou(dt[d].data(), gt[g].data(), crowd);
  }
  return o;
}

}  // namespace instseg::rle
