// What the driver keeps about the balloon of a running Arrow: whether it has
// one, the target set last, the last statistics QEMU gave, the AutoBalloon
// settings of this run and the timer that polls the statistics
// (arrow_driver_balloon.cc acts on it; arrow_autoballoon.h decides targets).
#pragma once

#include <glib.h>

#include <cstdint>
#include <functional>
#include <optional>

#include "driver/arrow/arrow_autoballoon.h"
#include "driver/engine/qemu_balloon.h"

namespace arrow {

// Calls TICK every PERIOD_S seconds on the main loop until stop() or the
// destructor. start() replaces a running timer.
class RepeatingTimer {
 public:
  RepeatingTimer() = default;
  RepeatingTimer(const RepeatingTimer&) = delete;
  RepeatingTimer& operator=(const RepeatingTimer&) = delete;
  ~RepeatingTimer() { stop(); }

  void start(unsigned period_s, std::function<void()> tick) {
    stop();
    tick_ = std::move(tick);
    id_ = g_timeout_add_seconds(period_s, &RepeatingTimer::on_tick, this);
  }
  void stop() {
    if (id_) g_source_remove(id_);
    id_ = 0;
  }
  bool running() const { return id_ != 0; }

 private:
  static gboolean on_tick(gpointer self) {
    std::function<void()> tick = static_cast<RepeatingTimer*>(self)->tick_;  // TICK may stop the timer
    tick();
    return G_SOURCE_CONTINUE;
  }
  guint id_ = 0;
  std::function<void()> tick_;
};

struct BalloonRun {
  bool present = false;          // the running QEMU has a balloon device
  uint64_t target_kib = 0;       // the target set last (<memory> until one is set)
  unsigned period_s = 0;         // the guest's statistics period asked of QEMU (0: none)
  std::optional<BalloonInfo> last;  // the last query-balloon + guest-stats
  AutoBalloonConf autoballoon;   // this run's settings
  uint64_t target_set_update = 0;    // the statistics' last_update when the target was last set
  int64_t pressure_us = 0;       // monotonic time of the last memory pressure report; 0: none
  int64_t started_us = 0;        // monotonic time the balloon was set up for this run
  bool querying = false;         // a poll is in flight
  RepeatingTimer poll;

  // A new QEMU (or none): forget the previous run.
  void reset() {
    poll.stop();
    present = false;
    target_kib = 0;
    period_s = 0;
    last.reset();
    target_set_update = 0;
    pressure_us = 0;
    started_us = 0;
    querying = false;
  }
};

}  // namespace arrow
