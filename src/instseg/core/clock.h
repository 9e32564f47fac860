// Monotonic seconds for durations (iteration times, timeouts, ETAs): the
// steady clock, which a wall-clock change (NTP) cannot move backwards.
#pragma once
#include <chrono>

namespace instseg {

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace instseg
