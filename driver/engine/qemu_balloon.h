// The memory balloon of an Arrow in QEMU: its -device argument (a pure
// function of the definition, beside build_qemu_argv) and its QMP side —
// the target ('balloon'), the size the guest gave back ('query-balloon') and
// the guest's statistics (qom-get/qom-set of guest-stats and
// guest-stats-polling-interval on the device). It spawns nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "domain-xml/arrow_def.h"
#include "driver/engine/json.h"
#include "util/result.h"

namespace arrow {

class QmpMonitor;

// The balloon's QOM id; QMP reaches it at /machine/peripheral/balloon0.
inline constexpr const char* kBalloonId = "balloon0";

// Whether the Arrow gets a balloon: <memballoon model='virtio'> always (the
// caller counts it among the virtio transports), an absent <memballoon> when
// FREE_TRANSPORTS leaves one for it, model='none' never.
bool balloon_wanted(const ArrowDef& def, size_t free_transports);

// "-device" value of the balloon (virtio-balloon-device on virtio-mmio).
std::string balloon_device_option(const MemBalloon& balloon);

// What the guest reports through the balloon's statistics queue, in
// libvirt's units (virDomainMemoryStatTags): KiB for sizes, counts for
// faults. Each is absent when the guest did not report it.
struct BalloonGuestStats {
  std::optional<uint64_t> swap_in_kib, swap_out_kib;
  std::optional<uint64_t> major_faults, minor_faults;
  std::optional<uint64_t> unused_kib;     // stat-free-memory
  std::optional<uint64_t> available_kib;  // stat-total-memory: what the guest sees as its memory
  std::optional<uint64_t> usable_kib;     // stat-available-memory: MemAvailable
  std::optional<uint64_t> disk_caches_kib;
  std::optional<uint64_t> hugetlb_pgalloc, hugetlb_pgfail;
  std::optional<uint64_t> last_update;    // guest's report time, seconds since the Epoch (host clock)
};

// The "guest-stats" property's value (QEMU sets a statistic to -1 when the
// guest gave none, and last-update to 0 before the first report).
BalloonGuestStats parse_balloon_guest_stats(const JsonValue& value);

struct BalloonInfo {
  uint64_t actual_kib = 0;  // query-balloon "actual": the guest's memory minus the balloon
  BalloonGuestStats guest;
};

// QMP 'balloon': the guest's memory target, in bytes.
void balloon_set_target(QmpMonitor& mon, uint64_t target_kib, std::function<void(Status)> done);
// qom-set guest-stats-polling-interval (seconds; 0 stops the statistics).
void balloon_set_stats_period(QmpMonitor& mon, unsigned period_s, std::function<void(Status)> done);
// query-balloon, then qom-get guest-stats.
void balloon_query(QmpMonitor& mon, std::function<void(Result<BalloonInfo>)> done);

}  // namespace arrow
