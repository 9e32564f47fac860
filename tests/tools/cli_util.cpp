#include "tools/cli_util.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace instseg::test {

std::string run_command(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) {
    *rc = -1;
    return out;
  }
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  *rc = pclose(p);
  return out;
}

std::string source_path(const std::string& rel) { return std::string(INSTSEG_SOURCE_DIR) + "/" + rel; }

std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream is(text);
  for (std::string line; std::getline(is, line);)
    if (line.find(needle) != std::string::npos) out.push_back(line);
  return out;
}

std::string write_small_nuclei_subset(const std::string& dir, int n) {
  std::ifstream in(source_path("data/nuclei/annotations/train.json"));
  const auto train = nlohmann::json::parse(in);
  std::map<int64_t, int> count;
  for (const auto& a : train["annotations"]) ++count[a["image_id"].get<int64_t>()];
  std::vector<std::pair<int, int64_t>> small;
  for (const auto& im : train["images"])
    if (im["width"] == 256 && im["height"] == 256) small.emplace_back(count[im["id"].get<int64_t>()], im["id"]);
  std::sort(small.begin(), small.end());
  std::set<int64_t> keep;
  for (int i = 0; i < n; ++i) keep.insert(small.at(static_cast<size_t>(i)).second);
  nlohmann::json sub = {{"images", nlohmann::json::array()},
                        {"annotations", nlohmann::json::array()},
                        {"categories", train["categories"]}};
  for (const auto& im : train["images"])
    if (keep.count(im["id"].get<int64_t>())) sub["images"].push_back(im);
  for (const auto& a : train["annotations"])
    if (keep.count(a["image_id"].get<int64_t>())) sub["annotations"].push_back(a);
  const std::string path = dir + "/train" + std::to_string(n) + ".json";
  std::ofstream(path) << sub.dump();
  return path;
}

std::string tiny_train_args(const std::string& ann, const std::string& work_dir, int epochs,
                            const std::string& extra) {
  const std::string root = source_path("data/nuclei/");
  std::string c = "train " + source_path("configs/solov2/solov2-light_r18_fpn_nuclei.yaml") + " --work-dir " +
                  work_dir + " --device cpu " + extra + " --cfg-options";
  for (const char* dl : {"train_dataloader", "val_dataloader"}) {
    c += std::string(" ") + dl + ".dataset.data_root=" + root;
    c += std::string(" ") + dl + ".dataset.ann_file=" + ann;
    c += std::string(" ") + dl + ".num_workers=0";
    c += std::string(" ") + dl + ".batch_size=1";
  }
  c += " train_dataloader.dataset.pipeline.2.scales=[[128,128]]";
  c += " val_dataloader.dataset.pipeline.1.scale=[128,128]";
  c += " val_evaluator.ann_file=" + ann;
  c += " train_cfg.max_epochs=" + std::to_string(epochs) + " train_cfg.val_interval=1";
  c += " param_scheduler.0.end=3 param_scheduler.1.end=" + std::to_string(epochs);
  c += " default_hooks.logger.interval=1 default_hooks.checkpoint.interval=1";
  return c;
}

}  // namespace instseg::test
