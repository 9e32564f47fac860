// A small logger: levels, timestamps, rank awareness, optional file sink.
//
//   instseg::log_info("loaded ", n, " images");   // 2026/11/21 08:30:01 - instseg - INFO - loaded 5 images
//
// Only rank 0 prints INFO and below once set_rank() was called with rank > 0;
// warnings and errors print on every rank with a "[rank r]" prefix. Lines go
// to stderr (so stdout stays clean for machine output such as --json) and,
// when set, to a log file. Thread safe.
#pragma once
#include "instseg/core/check.h"

#include <string>

namespace instseg {

enum class LogLevel { debug = 0, info = 1, warning = 2, error = 3 };

void set_log_level(LogLevel level);
LogLevel log_level();
// Distributed rank of this process; non-zero ranks only print warnings/errors.
void set_log_rank(int rank);
int log_rank();
// Also append every line to this file (empty path closes it). Lines kept by
// start_log_buffer() are written to it first.
void set_log_file(const std::string& path);
// Keeps the lines logged from now until the first set_log_file() (at most
// 4 MB of them), so that a log file opened late (the trainer's, inside the
// work_dir) still holds everything the console showed. Called by the CLI.
void start_log_buffer();

void log_line(LogLevel level, const std::string& msg);

template <typename... Args>
void log_debug(const Args&... a) {
  if (log_level() <= LogLevel::debug) log_line(LogLevel::debug, str_cat(a...));
}
template <typename... Args>
void log_info(const Args&... a) {
  if (log_level() <= LogLevel::info) log_line(LogLevel::info, str_cat(a...));
}
template <typename... Args>
void log_warning(const Args&... a) {
  log_line(LogLevel::warning, str_cat(a...));
}
template <typename... Args>
void log_error(const Args&... a) {
  log_line(LogLevel::error, str_cat(a...));
}

}  // namespace instseg
