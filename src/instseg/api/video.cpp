#include "instseg/api/video.h"

#include "instseg/core/check.h"
#include "instseg/core/log.h"

#include <opencv2/videoio.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <vector>

namespace instseg {
namespace fs = std::filesystem;

bool is_camera_index(const std::string& input) {
  return !input.empty() && input.size() <= 3 &&
         std::all_of(input.begin(), input.end(), [](unsigned char c) { return std::isdigit(c); });
}

bool is_video_file(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* e : {".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv", ".flv"})
    if (ext == e) return true;
  return false;
}

VideoStats predict_video(Predictor& predictor, const std::string& input, const VideoOptions& o,
                         const std::function<void(int64_t, const Prediction&)>& on_frame) {
  cv::VideoCapture cap;
  const bool camera = is_camera_index(input);
  if (camera) cap.open(std::stoi(input));
  else cap.open(input);
  if (!cap.isOpened())
    fail(input, camera ? ": cannot open camera " + input : std::string(": cannot open the video (OpenCV's "
                                                                      "VideoCapture; a codec it lacks?)"));
  VideoStats s;
  s.input_fps = cap.get(cv::CAP_PROP_FPS);
  if (!(s.input_fps > 0)) s.input_fps = 0;
  cv::VideoWriter writer;
  const size_t batch = static_cast<size_t>(std::max<int64_t>(1, predictor.options().batch_size));
  std::vector<cv::Mat> frames;
  std::vector<int64_t> ids;

  // One batch: segment, draw, write, report.
  auto flush = [&]() {
    if (frames.empty()) return;
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<Prediction> preds = predictor.predict(frames, ids);
    std::vector<cv::Mat> drawn;
    if (!o.output.empty())
      for (size_t i = 0; i < frames.size(); ++i) drawn.push_back(predictor.draw(frames[i], preds[i], o.draw));
    s.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (size_t i = 0; i < frames.size(); ++i) {
      if (!o.output.empty()) {
        if (!writer.isOpened()) {
          const fs::path parent = fs::path(o.output).parent_path();
          if (!parent.empty()) fs::create_directories(parent);
          const double fps = s.input_fps > 0 ? s.input_fps : 25.0;
          if (!writer.open(o.output, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), fps, drawn[i].size()))
            fail(o.output, ": cannot open the video for writing (MJPG)");
        }
        writer.write(drawn[i]);
      }
      if (on_frame) on_frame(ids[i], preds[i]);
    }
    frames.clear();
    ids.clear();
  };

  cv::Mat frame;
  while (o.max_frames < 0 || s.frames < o.max_frames) {
    if (!cap.read(frame) || frame.empty()) break;
    if (s.frames == 0) {
      s.width = frame.cols;
      s.height = frame.rows;
    }
    frames.push_back(frame.clone());  // VideoCapture reuses its buffer
    ids.push_back(s.frames);
    ++s.frames;
    if (frames.size() >= batch) flush();
  }
  flush();
  if (s.frames == 0) fail(input, ": no frame could be read");
  return s;
}

}  // namespace instseg
