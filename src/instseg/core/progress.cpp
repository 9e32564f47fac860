#include "instseg/core/progress.h"

#include "instseg/core/log.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace instseg {

ProgressBar::ProgressBar(int64_t total, std::string title, double report_every_s)
    : total_(total),
      title_(std::move(title)),
      report_every_s_(report_every_s),
      tty_(isatty(fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_report_(start_) {}

ProgressBar::~ProgressBar() {
  if (!finished_ && done_ > 0) finish();
}

std::string ProgressBar::render(int width) const {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  char buf[256];
  std::string out = title_.empty() ? "" : title_ + " ";
  if (total_ > 0) {
    int filled = static_cast<int>(std::lround(width * std::min<double>(1.0, double(done_) / total_)));
    out += "[" + std::string(filled, '>') + std::string(width - filled, ' ') + "] ";
    double eta = rate > 0 ? (total_ - done_) / rate : 0.0;
    std::snprintf(buf, sizeof buf, "%lld/%lld, %.1f task/s, elapsed: %.0fs, ETA: %.0fs",
                  static_cast<long long>(done_), static_cast<long long>(total_), rate, elapsed, eta);
  } else {
    std::snprintf(buf, sizeof buf, "%lld done, %.1f task/s, elapsed: %.0fs",
                  static_cast<long long>(done_), rate, elapsed);
  }
  return out + buf;
}

void ProgressBar::draw() {
  auto now = std::chrono::steady_clock::now();
  if (tty_) {
    std::fprintf(stderr, "\r%s", render().c_str());
    std::fflush(stderr);
  } else if (std::chrono::duration<double>(now - last_report_).count() >= report_every_s_) {
    last_report_ = now;
    log_info(render(20));
  }
}

void ProgressBar::update(int64_t n) {
  done_ += n;
  draw();
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (tty_) {
    std::fprintf(stderr, "\r%s\n", render().c_str());
    std::fflush(stderr);
  } else {
    log_info(render(20));
  }
}

}  // namespace instseg
