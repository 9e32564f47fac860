#include "instseg/api/prediction_files.h"

#include "instseg/core/check.h"

#include <opencv2/imgcodecs.hpp>

#include <filesystem>

namespace instseg {
namespace fs = std::filesystem;

MaskFormat parse_mask_format(const std::string& name) {
  if (name == "none") return MaskFormat::none;
  if (name == "rle") return MaskFormat::rle;
  if (name == "png") return MaskFormat::png;
  fail("mask format must be 'rle' or 'png', got '", name, "'");
}

nlohmann::ordered_json prediction_to_json(const Prediction& p, MaskFormat masks,
                                          const std::vector<std::string>& mask_files) {
  const int64_t k = p.size();
  nlohmann::ordered_json j;
  j["image_id"] = p.image_id;
  j["height"] = p.height;
  j["width"] = p.width;
  auto labels = nlohmann::ordered_json::array();
  auto scores = nlohmann::ordered_json::array();
  auto bboxes = nlohmann::ordered_json::array();
  for (int64_t i = 0; i < k; ++i) {
    labels.push_back(p.labels[i].item<int64_t>());
    scores.push_back(p.scores[i].item<float>());
    if (p.boxes.defined()) {
      const at::Tensor b = p.boxes[i];
      bboxes.push_back({b[0].item<float>(), b[1].item<float>(), b[2].item<float>(), b[3].item<float>()});
    }
  }
  j["labels"] = labels;
  j["class_names"] = p.class_names;
  j["scores"] = scores;
  j["bboxes"] = bboxes;
  switch (masks) {
    case MaskFormat::none: break;
    case MaskFormat::rle: {
      INSTSEG_CHECK(static_cast<int64_t>(p.rles.size()) == k, "prediction_to_json: ", k, " instances but ",
                    p.rles.size(), " RLE strings (set PredictorOptions::rle)");
      auto list = nlohmann::ordered_json::array();
      for (const auto& counts : p.rles) list.push_back({{"size", {p.height, p.width}}, {"counts", counts}});
      j["masks"] = list;
      break;
    }
    case MaskFormat::png:
      INSTSEG_CHECK(static_cast<int64_t>(mask_files.size()) == k, "prediction_to_json: ", k, " instances but ",
                    mask_files.size(), " mask files");
      j["mask_files"] = mask_files;
      break;
  }
  return j;
}

std::vector<std::string> save_mask_pngs(const Prediction& p, const std::string& dir, const std::string& stem) {
  std::vector<std::string> names;
  if (p.size() == 0) return names;
  INSTSEG_CHECK(p.masks.defined() && p.masks.dim() == 3, "save_mask_pngs: the prediction has no dense masks "
                "(PredictorOptions::masks)");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(dir, ": cannot create the directory: ", ec.message());
  const at::Tensor m = p.masks.to(at::kByte).contiguous();
  for (int64_t i = 0; i < p.size(); ++i) {
    const at::Tensor one = m[i].gt(0).to(at::kByte).mul(255).contiguous();
    const cv::Mat png(static_cast<int>(p.height), static_cast<int>(p.width), CV_8UC1, one.data_ptr<uint8_t>());
    names.push_back(stem + "_" + std::to_string(i) + ".png");
    const std::string path = (fs::path(dir) / names.back()).string();
    bool ok = false;
    try {
      ok = cv::imwrite(path, png);
    } catch (const cv::Exception& e) {
      fail(path, ": cannot write the mask: ", e.what());
    }
    if (!ok) fail(path, ": cannot write the mask");
  }
  return names;
}

}  // namespace instseg
