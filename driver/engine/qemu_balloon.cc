// The balloon's QEMU argument and QMP commands (see qemu_balloon.h).
#include "driver/engine/qemu_balloon.h"

#include <algorithm>
#include <cstdint>
#include <memory>

#include "driver/engine/qemu_monitor.h"
#include "util/i18n.h"

namespace arrow {

namespace {

constexpr const char* kBalloonPath = "/machine/peripheral/balloon0";

// QEMU's statistic NAME in bytes (or a count) as DIVISOR units; absent
// when the guest gave none (QEMU sends (uint64_t)-1, which the JSON reader
// caps at INT64_MAX, or -1) or QEMU sent no number.
std::optional<uint64_t> stat(const JsonValue& stats, const char* name, uint64_t divisor) {
  const JsonValue& v = stats[name];
  if (v.kind() != JsonValue::Kind::Number || v.as_int(-1) < 0 || v.as_int() == INT64_MAX) return std::nullopt;
  return static_cast<uint64_t>(v.as_int()) / divisor;
}

}  // namespace

bool balloon_wanted(const ArrowDef& def, size_t free_transports) {
  if (!def.balloon.present()) return false;
  return def.balloon.specified || free_transports > 0;
}

std::string balloon_device_option(const MemBalloon& balloon) {
  // deflate-on-oom: the guest takes pages back from the balloon before its
  // OOM killer would run, so no target (setmem, AutoBalloon) can kill the
  // application. free-page-reporting: the guest tells QEMU which freed pages
  // it may drop, so memory an application frees goes back to the host with
  // no balloon command.
  return fmt("virtio-balloon-device,id=%s,deflate-on-oom=%s,free-page-reporting=%s", kBalloonId,
             balloon.autodeflate ? "on" : "off", balloon.free_page_reporting ? "on" : "off");
}

BalloonGuestStats parse_balloon_guest_stats(const JsonValue& value) {
  const JsonValue& s = value["stats"];
  BalloonGuestStats g;
  g.swap_in_kib = stat(s, "stat-swap-in", 1024);
  g.swap_out_kib = stat(s, "stat-swap-out", 1024);
  g.major_faults = stat(s, "stat-major-faults", 1);
  g.minor_faults = stat(s, "stat-minor-faults", 1);
  g.unused_kib = stat(s, "stat-free-memory", 1024);
  g.available_kib = stat(s, "stat-total-memory", 1024);
  g.usable_kib = stat(s, "stat-available-memory", 1024);
  g.disk_caches_kib = stat(s, "stat-disk-caches", 1024);
  g.hugetlb_pgalloc = stat(s, "stat-htlb-pgalloc", 1);
  g.hugetlb_pgfail = stat(s, "stat-htlb-pgfail", 1);
  if (value["last-update"].as_int(0) > 0) g.last_update = static_cast<uint64_t>(value["last-update"].as_int());
  return g;
}

void balloon_set_target(QmpMonitor& mon, uint64_t target_kib, std::function<void(Status)> done) {
  JsonValue args = JsonValue::object();
  args.set("value", JsonValue::number(static_cast<int64_t>(target_kib * 1024)));
  mon.execute("balloon", std::move(args), [done = std::move(done)](Result<JsonValue> r) {
    if (!r) return done(r.error());
    done({});
  });
}

void balloon_set_stats_period(QmpMonitor& mon, unsigned period_s, std::function<void(Status)> done) {
  JsonValue args = JsonValue::object();
  args.set("path", JsonValue::string(kBalloonPath));
  args.set("property", JsonValue::string("guest-stats-polling-interval"));
  args.set("value", JsonValue::number(period_s));
  mon.execute("qom-set", std::move(args), [done = std::move(done)](Result<JsonValue> r) {
    if (!r) return done(r.error());
    done({});
  });
}

void balloon_query(QmpMonitor& mon, std::function<void(Result<BalloonInfo>)> done) {
  // The monitor outlives neither the process nor its pending replies: a
  // reply that never comes fails every callback when the connection closes.
  QmpMonitor* m = &mon;
  mon.execute("query-balloon", [m, done = std::move(done)](Result<JsonValue> r) mutable {
    if (!r) return done(r.error());
    BalloonInfo info;
    info.actual_kib = static_cast<uint64_t>(std::max<int64_t>(0, (*r)["actual"].as_int())) / 1024;
    JsonValue args = JsonValue::object();
    args.set("path", JsonValue::string(kBalloonPath));
    args.set("property", JsonValue::string("guest-stats"));
    m->execute("qom-get", std::move(args), [info, done = std::move(done)](Result<JsonValue> s) mutable {
      if (s) info.guest = parse_balloon_guest_stats(*s);
      done(info);  // without statistics (not polled yet): actual alone
    });
  });
}

}  // namespace arrow
