// mmcv-style progress bar: "[>>>>     ] 34/100, 13.0 task/s, elapsed: 4s, ETA: 8s".
// On a terminal it redraws one line on stderr; otherwise (CI, pipes, files) it
// prints a plain log line every `report_every_s` seconds and at the end.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace instseg {

class ProgressBar {
 public:
  // total <= 0: unknown length (count and rate only).
  explicit ProgressBar(int64_t total, std::string title = "", double report_every_s = 10.0);
  ~ProgressBar();
  void update(int64_t n = 1);
  void finish();
  // Forces the non-TTY mode (for tests) or the TTY mode.
  void set_tty(bool tty) { tty_ = tty; }
  // The text of the bar as it would be drawn now (for tests).
  std::string render(int width = 40) const;

 private:
  void draw();
  int64_t total_;
  int64_t done_ = 0;
  std::string title_;
  double report_every_s_;
  bool tty_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_report_;
};

}  // namespace instseg
