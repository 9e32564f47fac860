// Video files and cameras through a Predictor, as mmdetection's video_demo.py
// and webcam_demo.py: every frame segmented, annotated frames written to a
// video, frames per second measured.
//
//   Predictor predictor("solov2.yaml", "solov2.pth");
//   VideoOptions vo;
//   vo.output = "out/street.avi";                       // MJPG; "" writes no video
//   VideoStats s = predict_video(predictor, "street.mp4", vo,   // or "0": camera 0
//                                [](int64_t frame, const Prediction& p) { ... });
//   // s.frames, s.fps(): frames per second of the model and the drawing
//
// The input is opened with cv::VideoCapture: a number is a camera index
// (webcam_demo's --camera-id), anything else a file. Frames go through the
// same path as images (BGR cv::Mat -> Predictor::predict), in batches of the
// predictor's batch_size; image ids are the frame indices.
#pragma once
#include "instseg/api/predictor.h"

#include <cstdint>
#include <functional>
#include <string>

namespace instseg {

struct VideoOptions {
  std::string output;        // annotated video file ("" = none); MJPG in any container OpenCV writes (.avi)
  int64_t max_frames = -1;   // stop after this many frames (-1: until the input ends)
  VisualizeOptions draw;     // how frames are annotated (Predictor::draw)
};

struct VideoStats {
  int64_t frames = 0;         // frames read and segmented
  int64_t width = 0, height = 0;
  double input_fps = 0;       // the input's frame rate (CAP_PROP_FPS; 0 when unknown)
  double seconds = 0;         // model + drawing time, without decoding and encoding
  double fps() const { return seconds > 0 ? static_cast<double>(frames) / seconds : 0.0; }
};

// True for a camera index ("0", "1", ...).
bool is_camera_index(const std::string& input);
// True for the video file extensions instseg predict recognises (.mp4 .avi
// .mov .mkv .webm .mpg .mpeg .m4v .wmv .flv, any case).
bool is_video_file(const std::string& path);

// Segments every frame; on_frame(frame_index, prediction) is called in frame
// order. Throws instseg::Error naming the input when it cannot be opened or
// has no frame, and the output when it cannot be written.
VideoStats predict_video(Predictor& predictor, const std::string& input, const VideoOptions& options,
                         const std::function<void(int64_t, const Prediction&)>& on_frame = {});

}  // namespace instseg
