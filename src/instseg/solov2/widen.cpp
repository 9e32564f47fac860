#include "instseg/solov2/widen.h"

#include "instseg/core/check.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <string>
#include <vector>

namespace instseg {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// New channel j of n copies old channel floor(j * s / n).
std::vector<int64_t> channel_map(int64_t s, int64_t n) {
  std::vector<int64_t> m(n);
  for (int64_t j = 0; j < n; ++j) m[j] = j * s / n;
  return m;
}

// How many new channels copy each old one.
std::vector<int64_t> copy_counts(const std::vector<int64_t>& map, int64_t s) {
  std::vector<int64_t> c(s, 0);
  for (int64_t o : map) ++c[o];
  return c;
}

// The input map of a conv weight's dim 1 (and each column's divisor): the
// channel map, or for a coordinate conv the map of the first s - 2 inputs
// followed by the two coordinates unchanged.
void input_map(const std::string& key, int64_t s, int64_t n, bool coords, std::vector<int64_t>* map,
               std::vector<double>* divisor) {
  const int64_t keep = coords ? 2 : 0;
  if (coords && (s < 3 || n < 3)) fail("widen: ", key, ": a coordinate conv needs more than 2 inputs, has ", s);
  const int64_t fs = s - keep, fn = n - keep;
  *map = channel_map(fs, fn);
  const std::vector<int64_t> count = copy_counts(*map, fs);
  divisor->clear();
  for (int64_t o : *map) divisor->push_back(static_cast<double>(count[o]));
  for (int64_t i = 0; i < keep; ++i) {
    map->push_back(fs + i);
    divisor->push_back(1.0);
  }
}

at::Tensor index_tensor(const std::vector<int64_t>& v) { return at::tensor(v, at::kLong); }

std::string shape_str(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

}  // namespace

TensorDict widen_solov2_state_dict(const TensorDict& source, const TensorDict& target, const WidenOptions& options) {
  if (!(options.noise >= 0.0)) fail("widen: noise must be >= 0, got ", options.noise);
  for (const auto& [key, value] : source)
    if (!target.contains(key)) fail("widen: the source has '", key, "', the target model does not (not the same architecture)");

  // The mask feature head's last level takes the coordinates (mmdet's MaskFeatModule).
  int64_t last_level = -1;
  const std::string mfh = "mask_head.mask_feature_head.convs_all_levels.";
  for (const auto& [key, value] : target)
    if (starts_with(key, mfh)) last_level = std::max<int64_t>(last_level, std::stoll(key.substr(mfh.size())));
  const std::string coord_convs[] = {"mask_head.kernel_convs.0.conv.weight",
                                     mfh + std::to_string(last_level) + ".conv0.conv.weight"};

  at::Generator gen = at::detail::createCPUGenerator(options.seed);
  TensorDict out;
  for (const auto& [key, shape_of] : target) {
    if (!source.contains(key)) fail("widen: the target model has '", key, "', the source does not (not the same architecture)");
    at::Tensor src = source.at(key).detach().to(at::kCPU);
    if (src.is_floating_point()) src = src.to(shape_of.scalar_type());  // a float16 published file widens in fp32
    if (src.dim() != shape_of.dim())
      fail("widen: ", key, ": source ", shape_str(src), " and target ", shape_str(shape_of), " differ in rank");
    if (src.dim() == 0) {  // num_batches_tracked
      out.set(key, src.clone().to(shape_of.scalar_type()));
      continue;
    }
    for (int64_t d = 0; d < src.dim(); ++d) {
      if (d >= 2 && shape_of.size(d) != src.size(d))
        fail("widen: ", key, ": kernel sizes differ (source ", shape_str(src), ", target ", shape_str(shape_of), ")");
      if (shape_of.size(d) < src.size(d))
        fail("widen: ", key, ": target ", shape_str(shape_of), " is narrower than the source ", shape_str(src));
    }
    if (starts_with(key, "mask_head.conv_cls.") && shape_of.size(0) != src.size(0))
      fail("widen: ", key, ": the class count differs (", src.size(0), " -> ", shape_of.size(0),
           "); widening keeps the classes");
    const int64_t s = src.size(0), n = shape_of.size(0);
    if (key.find(".gn.") != std::string::npos && n % s != 0)
      fail("widen: ", key, ": a GroupNorm'd space grows from ", s, " to ", n,
           " channels; only integer factors keep its groups' statistics");
    if (src.dim() != 1 && src.dim() != 4)
      fail("widen: ", key, ": a ", src.dim(), "-d tensor ", shape_str(src), " (expected conv weights or per-channel vectors)");

    // Outputs (dim 0). Computed in the source's dtype: the divisions are by
    // small integers (exact for counts that are powers of two).
    const std::vector<int64_t> omap = channel_map(s, n);
    at::Tensor w = src.index_select(0, index_tensor(omap));
    if (starts_with(key, "mask_head.conv_kernel.")) {
      const std::vector<int64_t> count = copy_counts(omap, s);
      std::vector<double> div;
      for (int64_t o : omap) div.push_back(static_cast<double>(count[o]));
      std::vector<int64_t> vshape(w.dim(), 1);
      vshape[0] = n;
      w = w / at::tensor(div, at::kDouble).to(w.scalar_type()).view(vshape);
    }
    // Inputs (dim 1 of conv weights).
    if (src.dim() == 4) {
      const bool coords = std::find(std::begin(coord_convs), std::end(coord_convs), key) != std::end(coord_convs);
      std::vector<int64_t> imap;
      std::vector<double> idiv;
      input_map(key, src.size(1), shape_of.size(1), coords, &imap, &idiv);
      w = w.index_select(1, index_tensor(imap)) / at::tensor(idiv, at::kDouble).to(w.scalar_type()).view({1, -1, 1, 1});
      std::vector<int64_t> copies;  // every copy after an old channel's first
      for (int64_t j = 1; j < n; ++j)
        if (omap[j] == omap[j - 1]) copies.push_back(j);
      if (options.noise > 0.0 && !copies.empty() && src.numel() > 1) {  // (one weight: no std to scale by)
        // One draw per tensor, in key order, from one generator seeded once:
        // the file is a function of (source, target shapes, noise, seed).
        std::vector<int64_t> size = w.sizes().vec();
        size[0] = static_cast<int64_t>(copies.size());
        const at::Tensor eps = at::randn(size, gen, at::TensorOptions().dtype(w.scalar_type()));
        const at::Tensor rows = index_tensor(copies);
        w.index_put_({rows}, w.index_select(0, rows) + src.std() * options.noise * eps);
      }
    }
    out.set(key, w.to(shape_of.scalar_type()).contiguous());
  }
  return out;
}

}  // namespace instseg
