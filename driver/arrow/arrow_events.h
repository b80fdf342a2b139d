// The driver's side of events: the fan-out of ArrowEvent (driver_api.h) to
// the front ends that subscribed, the heartbeat watch that raises the
// missed-heartbeat event, what Anotify said about the current run, and the
// Arrow metadata namespace (per-Arrow heartbeat setting in, last exit status
// out).
#pragma once

#include <glib.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "domain-xml/arrow_def.h"
#include "driver/api/arrow_names.h"
#include "driver/api/driver_api.h"
#include "util/rate_limit.h"
#include "util/result.h"

namespace arrow {

// Fan-out: every listener sees every event, in order, on the main loop.
class EventBus {
 public:
  using Listener = std::function<void(const ArrowEvent&)>;
  void subscribe(Listener listener) { listeners_.push_back(std::move(listener)); }
  void publish(const ArrowEvent& ev) const {
    for (const Listener& listener : listeners_) listener(ev);
  }

 private:
  std::vector<Listener> listeners_;
};

// Watches one Arrow's heartbeats. Contract: after start(period_s), MISSED
// runs once when 3 periods pass without beat(); a later beat() re-arms it
// (and returns true, so the caller can log the recovery). reset() restarts
// the wait (after a pause). A period of 0 watches nothing. The GLib source is
// removed by stop() and the destructor.
class HeartbeatWatch {
 public:
  HeartbeatWatch() = default;
  ~HeartbeatWatch() { stop(); }
  HeartbeatWatch(const HeartbeatWatch&) = delete;
  HeartbeatWatch& operator=(const HeartbeatWatch&) = delete;

  void start(unsigned period_s, std::function<void()> missed);
  bool beat();
  void reset() { last_us_ = g_get_monotonic_time(); }
  void stop();
  bool missed() const { return missed_; }

 private:
  static gboolean on_tick(gpointer self);
  unsigned period_s_ = 0;
  int64_t last_us_ = 0;
  bool missed_ = false;
  guint source_ = 0;
  std::function<void()> on_missed_;
};

// What Anotify told the driver about the current run of an Arrow.
struct AnotifyState {
  bool started_emitted = false;  // STARTED/BOOTED sent for this run
  bool ready = false;            // the application said READY=1 in this run
  bool oom = false;              // an OOM kill was reported in this run
  uint32_t oom_pid = 0;
  std::optional<uint64_t> last_heartbeat_ms;  // guest uptime of the last heartbeat
  unsigned heartbeat_s = 0;                   // the period asked of ainit
  HeartbeatWatch watch;
  // What a guest can make the daemon do per second, whatever it sends (kept
  // across runs, so a restart loop floods nothing either): lines in the
  // daemon's log, and events for the front ends (D-Bus signals).
  RateLimit log_limit{10, 1};
  RateLimit event_limit{30, 10};

  // A new QEMU: forget the previous run (the last exit status stays in
  // ArrowDomain). SAME_ID: a restart that keeps the Arrow's id (reboot,
  // on_poweroff) is no new start for libvirt, so STARTED is not sent again.
  void new_run(unsigned period_s, bool same_id) {
    started_emitted = started_emitted && same_id;
    oom = false;
    oom_pid = 0;
    ready = false;
    last_heartbeat_ms.reset();
    heartbeat_s = period_s;
    watch.stop();
  }
};

// The heartbeat period DEF asks for in <metadata><arrow:anotify heartbeat='S'/>,
// or nothing when absent. An invalid value is VIR_ERR_XML_ERROR naming the attribute.
Result<std::optional<unsigned>> metadata_heartbeat(const ArrowDef& def);

// DEF's metadata for the live XML: Arrow status elements a client may have
// copied back are dropped, and <arrow:status exit-status='N' signal='N'/> is
// added when an exit is known.
std::vector<std::string> metadata_with_status(const ArrowDef& def, std::optional<int> exit_status, int exit_signal);

}  // namespace arrow
