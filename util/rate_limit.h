// A token bucket for what a peer can trigger (a guest's log lines and
// signals): BURST at once, then RATE per second. Time comes from the caller
// (monotonic microseconds), so tests drive it without sleeping.
#pragma once

#include <algorithm>
#include <cstdint>

namespace arrow {

class RateLimit {
 public:
  RateLimit(double burst, double rate_per_s) : burst_(burst), rate_(rate_per_s), tokens_(burst) {}

  // True when one more event may pass at NOW_US; counts the refused ones.
  bool allow(int64_t now_us) {
    if (last_us_ >= 0) tokens_ = std::min(burst_, tokens_ + rate_ * static_cast<double>(now_us - last_us_) / 1e6);
    last_us_ = now_us;
    if (tokens_ >= 1) {
      tokens_ -= 1;
      return true;
    }
    suppressed_++;
    return false;
  }
  // Refused since the last call, and resets the count.
  uint64_t take_suppressed() {
    uint64_t n = suppressed_;
    suppressed_ = 0;
    return n;
  }

 private:
  double burst_;
  double rate_;
  double tokens_;
  int64_t last_us_ = -1;
  uint64_t suppressed_ = 0;
};

}  // namespace arrow
