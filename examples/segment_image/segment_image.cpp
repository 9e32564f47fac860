// segment_image CONFIG CHECKPOINT IMAGE [OUT.png] [--device D] [--score-thr T] [--threads N]
//
// Segments one image with instseg's C++ API and prints its instances, one per
// line: index, label, class name, score, box (x1 y1 x2 y2, image pixels), mask
// area and the mask as a COCO RLE string; writes the overlay to OUT.png
// (default: IMAGE's name with _instances.png). --threads sets LibTorch's
// intra-op threads (at::set_num_threads), as `instseg --threads` does: CPU
// results agree bit for bit between runs with the same thread count (the
// order of floating-point reductions depends on it).
#include <instseg/instseg.h>

#include <ATen/Parallel.h>  // at::set_num_threads
#include <opencv2/imgcodecs.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  std::vector<std::string> pos;
  instseg::PredictorOptions options;
  options.rle = true;  // masks as COCO RLE strings too, for printing
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--device" && i + 1 < argc) options.device = argv[++i];
    else if (a == "--score-thr" && i + 1 < argc) options.score_thr = std::atof(argv[++i]);
    else if (a == "--threads" && i + 1 < argc) at::set_num_threads(std::atoi(argv[++i]));
    else pos.push_back(a);
  }
  if (pos.size() < 3 || pos.size() > 4) {
    std::fprintf(stderr, "usage: %s CONFIG CHECKPOINT IMAGE [OUT.png] [--device D] [--score-thr T] [--threads N]\n", argv[0]);
    return 2;
  }
  const std::filesystem::path image(pos[2]);
  const std::string out = pos.size() == 4 ? pos[3] : (image.parent_path() / image.stem()).string() + "_instances.png";
  try {
    instseg::Predictor predictor(pos[0], pos[1], options);
    const cv::Mat bgr = cv::imread(pos[2], cv::IMREAD_COLOR);
    if (bgr.empty()) throw std::runtime_error(pos[2] + ": cannot read the image");

    const instseg::Prediction r = predictor.predict(bgr);
    std::printf("%s: %lld instances (%dx%d)\n", pos[2].c_str(), static_cast<long long>(r.size()), bgr.cols, bgr.rows);
    for (int64_t k = 0; k < r.size(); ++k) {
      const float* box = r.boxes[k].data_ptr<float>();
      std::printf("%lld label=%lld class=%s score=%.9g box=[%.2f %.2f %.2f %.2f] area=%lld rle=%s\n",
                  static_cast<long long>(k), static_cast<long long>(r.labels[k].item<int64_t>()),
                  r.class_names[k].c_str(), r.scores[k].item<float>(), box[0], box[1], box[2], box[3],
                  static_cast<long long>(r.masks[k].sum().item<int64_t>()), r.rles[k].c_str());
    }
    if (!cv::imwrite(out, predictor.draw(bgr, r))) throw std::runtime_error(out + ": cannot write");
    std::printf("overlay: %s\n", out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
