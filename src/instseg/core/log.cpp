#include "instseg/core/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <mutex>

namespace instseg {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
std::atomic<int> g_rank{0};
std::mutex g_mutex;
std::ofstream g_file;
bool g_buffering = false;
std::string g_buffer;        // lines logged before the log file opened
constexpr size_t kMaxBuffer = size_t{4} << 20;

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::debug: return "DEBUG";
    case LogLevel::info: return "INFO";
    case LogLevel::warning: return "WARNING";
    case LogLevel::error: return "ERROR";
  }
  return "?";
}

// mmengine's timestamp format: 2026/11/21 08:30:01
std::string timestamp() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y/%m/%d %H:%M:%S", &tm);
  return buf;
}
}  // namespace

void set_log_level(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load()); }
void set_log_rank(int rank) { g_rank = rank; }
int log_rank() { return g_rank.load(); }

void set_log_file(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_file.is_open()) g_file.close();
  if (!path.empty()) {
    g_file.open(path, std::ios::app);
    if (!g_file) fail("log: cannot open log file ", path);
    if (g_buffering) {
      g_file << g_buffer;
      g_file.flush();
    }
  }
  g_buffering = false;
  std::string().swap(g_buffer);
}

void start_log_buffer() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_file.is_open()) g_buffering = true;
}

void log_line(LogLevel level, const std::string& msg) {
  int rank = g_rank.load();
  if (rank > 0 && level < LogLevel::warning) return;
  std::string line = timestamp() + " - instseg - " + level_name(level) + " - ";
  if (rank > 0) line += "[rank " + std::to_string(rank) + "] ";
  line += msg;
  line += '\n';
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  if (g_file.is_open()) {
    g_file << line;
    g_file.flush();
  } else if (g_buffering && g_buffer.size() + line.size() <= kMaxBuffer) {
    g_buffer += line;
  }
}

}  // namespace instseg
