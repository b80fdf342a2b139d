// AutoBalloon: the policy that keeps a running Arrow's balloon near what its
// guest uses plus a margin (inflate while it idles, deflate at once under
// memory pressure), and its settings (virtarrowd.conf and
// <metadata><arrow:autoballoon/>). Pure: arrow_driver_balloon.cc feeds it
// samples and sends the targets it returns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "domain-xml/arrow_def.h"
#include "util/result.h"

namespace arrow {

struct AutoBalloonConf {
  bool enabled = false;
  uint64_t margin_kib = 16 * 1024;  // memory kept available above what the guest uses
  uint64_t floor_kib = 24 * 1024;   // never a target below this
  unsigned interval_s = 2;          // statistics period while AutoBalloon runs
  unsigned hold_s = 30;             // no inflation this long after guest memory pressure
  unsigned start_hold_s = 10;       // nor this long after QEMU started: the application is loading
};

// DEFAULTS (virtarrowd.conf) overridden by DEF's <arrow:autoballoon
// state='on|off' margin='MiB' floor='MiB'/>. VIR_ERR_XML_ERROR names a bad
// attribute.
Result<AutoBalloonConf> metadata_autoballoon(const ArrowDef& def, const AutoBalloonConf& defaults);

// What the driver knows at one statistics report.
struct AutoBalloonSample {
  uint64_t max_kib = 0;     // <memory>
  uint64_t actual_kib = 0;  // the guest's memory minus the balloon (query-balloon)
  uint64_t target_kib = 0;  // the target set last
  std::optional<uint64_t> usable_kib;  // the guest's MemAvailable
  bool fresh = false;       // the statistics were taken after the last target was set
  bool pressure = false;    // the guest reported memory pressure within hold_s
  bool hold = false;        // within start_hold_s of the start: no inflation
};

// The target to set now, or nothing when the current one stays: <memory> under
// pressure; otherwise actual - usable + margin (what the guest uses plus the
// margin), within [floor, <memory>]. Deflates at once when the guest's
// available memory falls below three quarters of the margin; inflates only on
// fresh statistics of a balloon that reached its target, outside the hold
// after the start, and by steps of at least a quarter of the margin, so it
// never chases its own movement.
std::optional<uint64_t> autoballoon_next_target(const AutoBalloonConf& conf, const AutoBalloonSample& s);

}  // namespace arrow
