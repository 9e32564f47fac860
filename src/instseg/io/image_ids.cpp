#include "instseg/io/image_ids.h"

#include "instseg/core/check.h"

#include <filesystem>
#include <unordered_map>

namespace fs = std::filesystem;

namespace instseg {

std::vector<int64_t> image_ids_for_files(const CocoFile& gt, const std::vector<std::string>& files) {
  // file_name -> image indices, keyed by the last path component (what most
  // COCO files store) so that each input looks at a handful of candidates.
  std::unordered_map<std::string, std::vector<size_t>> by_base;
  for (size_t i = 0; i < gt.images.size(); ++i)
    by_base[fs::path(gt.images[i].file_name).filename().string()].push_back(i);

  std::vector<int64_t> ids;
  ids.reserve(files.size());
  std::string unmatched;
  size_t n_unmatched = 0;
  for (const std::string& file : files) {
    const std::string norm = fs::path(file).lexically_normal().generic_string();
    const auto it = by_base.find(fs::path(file).filename().string());
    size_t best_len = 0, n_best = 0;
    int64_t best = 0;
    if (it != by_base.end()) {
      for (size_t i : it->second) {
        const std::string name = fs::path(gt.images[i].file_name).lexically_normal().generic_string();
        const bool match = norm == name || (norm.size() > name.size() &&
                                            norm.compare(norm.size() - name.size(), name.size(), name) == 0 &&
                                            norm[norm.size() - name.size() - 1] == '/');
        if (!match) continue;
        if (name.size() > best_len) {
          best_len = name.size();
          best = gt.images[i].id;
          n_best = 1;
        } else if (name.size() == best_len) {
          ++n_best;
        }
      }
    }
    if (n_best > 1)
      fail(gt.path, ": ", file, " matches ", n_best, " images equally well (file_name ending in '",
           fs::path(file).filename().string(), "'): its image id is ambiguous");
    if (n_best == 0) {
      if (n_unmatched < 3) unmatched += (n_unmatched ? ", " : "") + file;
      ++n_unmatched;
      continue;
    }
    ids.push_back(best);
  }
  if (n_unmatched > 0)
    fail(gt.path, ": ", n_unmatched, " of ", files.size(), " input images are not among its ", gt.images.size(),
         " images (no images[].file_name matches): ", unmatched, n_unmatched > 3 ? ", ..." : "",
         "; results for them could not be evaluated against it");
  return ids;
}

}  // namespace instseg
