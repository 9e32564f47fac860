// segment_video CONFIG CHECKPOINT VIDEO|CAMERA_INDEX [OUT.avi] [--device D] [--score-thr T] [--max-frames N]
//
// Segments every frame of a video file (or of camera N, e.g. 0) with
// instseg's C++ API and writes the annotated frames to OUT.avi (MJPG; default
// segment_video_out.avi), printing the instance count per frame and the
// frames per second (model and drawing, without decoding and encoding).
#include <instseg/instseg.h>

#include <opencv2/videoio.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  std::vector<std::string> pos;
  instseg::PredictorOptions options;
  long long max_frames = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--device" && i + 1 < argc) options.device = argv[++i];
    else if (a == "--score-thr" && i + 1 < argc) options.score_thr = std::atof(argv[++i]);
    else if (a == "--max-frames" && i + 1 < argc) max_frames = std::atoll(argv[++i]);
    else pos.push_back(a);
  }
  if (pos.size() < 3 || pos.size() > 4) {
    std::fprintf(stderr, "usage: %s CONFIG CHECKPOINT VIDEO|CAMERA_INDEX [OUT.avi] [--device D] [--score-thr T] "
                 "[--max-frames N]\n", argv[0]);
    return 2;
  }
  const std::string& input = pos[2];
  const std::string out = pos.size() == 4 ? pos[3] : "segment_video_out.avi";
  try {
    instseg::Predictor predictor(pos[0], pos[1], options);
    // A number is a camera index (as mmdetection's webcam_demo), anything else a file.
    const bool camera = input.find_first_not_of("0123456789") == std::string::npos;
    cv::VideoCapture cap;
    if (camera) cap.open(std::stoi(input));
    else cap.open(input);
    if (!cap.isOpened()) throw std::runtime_error(input + ": cannot open the video");
    double fps = cap.get(cv::CAP_PROP_FPS);
    if (!(fps > 0)) fps = 25;

    cv::VideoWriter writer;
    cv::Mat frame;
    long long n = 0;
    double busy = 0;
    while ((max_frames < 0 || n < max_frames) && cap.read(frame) && !frame.empty()) {
      const auto t0 = std::chrono::steady_clock::now();
      const instseg::Prediction r = predictor.predict(frame, n);
      const cv::Mat drawn = predictor.draw(frame, r);
      busy += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (!writer.isOpened() &&
          !writer.open(out, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), fps, drawn.size()))
        throw std::runtime_error(out + ": cannot open for writing");
      writer.write(drawn);
      std::printf("frame %lld: %lld instances\n", n, static_cast<long long>(r.size()));
      ++n;
    }
    if (n == 0) throw std::runtime_error(input + ": no frames");
    std::printf("%lld frames, %.2f frames/s; wrote %s\n", n, n / busy, out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
