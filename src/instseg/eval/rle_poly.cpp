// rleFrPoly (pycocotools maskApi.c): polygon -> RLE. The polygon's edges are
// walked on a 5x upsampled integer grid, the points where the walk crosses a
// pixel column centre become run boundaries, and the sorted boundaries become
// runs. Every rounding step (int casts of x*5+.5, ceil of the downsampled y)
// is reproduced exactly, since one pixel of difference changes the string.
#include "instseg/eval/rle.h"

#include "instseg/core/require.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace instseg::rle {

Rle from_polygon(const std::vector<double>& xy, int64_t h, int64_t w) {
  check_size(h, w, "polygon");
  const size_t k = xy.size() / 2;
  const double scale = 5;
  Rle r;
  r.h = h;
  r.w = w;
  if (k == 0) {
    r.counts.push_back(static_cast<uint32_t>(h * w));
    return r;
  }
  // Upsampled vertices, closed. maskApi.c casts to int: a coordinate whose
  // 5x value does not fit is undefined behaviour there, an error here.
  constexpr double kMaxCoord = 4.0e8;  // 5 * 4e8 < 2^31
  std::vector<int> x(k + 1), y(k + 1);
  for (size_t j = 0; j < 2 * k; ++j) {
    const double c = xy[j];
    if (!(c >= -kMaxCoord && c <= kMaxCoord))
      fail("polygon vertex ", j / 2, " has ", j % 2 ? "y" : "x", " = ", c, ", outside +-", kMaxCoord);
    (j % 2 ? y : x)[j / 2] = static_cast<int>(scale * c + .5);
  }
  x[k] = x[0];
  y[k] = y[0];
  // The walk visits every upsampled pixel of the outline; refuse an outline
  // whose points would not fit in memory before allocating them.
  uint64_t m = 0;
  for (size_t j = 0; j < k; ++j)
    m += static_cast<uint64_t>(std::max(std::abs(int64_t{x[j]} - x[j + 1]), std::abs(int64_t{y[j]} - y[j + 1]))) + 1;
  if (m > kMaxPolygonWalk)
    fail("polygon outline is ", m, " points at pycocotools' 5x scale (limit ", kMaxPolygonWalk,
         "): vertices far outside the ", h, "x", w, " image?");
  std::vector<int> u, v;
  u.reserve(m);
  v.reserve(m);
  // Dense points along every edge, stepping along the major axis.
  for (size_t j = 0; j < k; ++j) {
    int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const int dx = std::abs(xe - xs), dy = std::abs(ys - ye);
    const bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      std::swap(xs, xe);
      std::swap(ys, ye);
    }
    if (dx == 0 && dy == 0) {
      // maskApi.c computes 0/0 here; the point repeats its neighbours' x, so
      // its y is never read below. Emit the vertex itself.
      u.push_back(xs);
      v.push_back(ys);
      continue;
    }
    const double s = dx >= dy ? static_cast<double>(ye - ys) / dx : static_cast<double>(xe - xs) / dy;
    if (dx >= dy) {
      for (int d = 0; d <= dx; ++d) {
        const int t = flip ? dx - d : d;
        u.push_back(t + xs);
        v.push_back(static_cast<int>(ys + s * t + .5));
      }
    } else {
      for (int d = 0; d <= dy; ++d) {
        const int t = flip ? dy - d : d;
        v.push_back(t + ys);
        u.push_back(static_cast<int>(xs + s * t + .5));
      }
    }
  }
  // Points where x changes, downsampled; only those on a pixel column centre.
  const size_t np = u.size();
  std::vector<uint32_t> a;
  a.reserve(np + 1);
  for (size_t j = 1; j < np; ++j) {
    if (u[j] == u[j - 1]) continue;
    double xd = static_cast<double>(u[j] < u[j - 1] ? u[j] : u[j] - 1);
    xd = (xd + .5) / scale - .5;
    if (std::floor(xd) != xd || xd < 0 || xd > static_cast<double>(w - 1)) continue;
    double yd = static_cast<double>(v[j] < v[j - 1] ? v[j] : v[j - 1]);
    yd = (yd + .5) / scale - .5;
    if (yd < 0)
      yd = 0;
    else if (yd > static_cast<double>(h))
      yd = static_cast<double>(h);
    yd = std::ceil(yd);
    const int64_t xi = static_cast<int64_t>(xd), yi = static_cast<int64_t>(yd);
    a.push_back(static_cast<uint32_t>(xi * h + yi));
  }
  a.push_back(static_cast<uint32_t>(h * w));
  std::sort(a.begin(), a.end());
  // Boundaries -> run lengths; zero-length runs fold into the next run.
  uint32_t p = 0;
  for (auto& t : a) {
    const uint32_t cur = t;
    t -= p;
    p = cur;
  }
  std::vector<uint32_t> b;
  b.reserve(a.size());
  size_t j = 0;
  b.push_back(a[j++]);
  while (j < a.size()) {
    if (a[j] > 0) {
      b.push_back(a[j++]);
    } else {
      ++j;
      if (j < a.size()) b.back() += a[j++];
    }
  }
  r.counts = std::move(b);
  return r;
}

}  // namespace instseg::rle
