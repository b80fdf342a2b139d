// ArrowDriver's balloon: virDomainSetMemoryFlags, virDomainMemoryStats,
// virDomainSetMemoryStatsPeriod, the balloon's part of domain stats and
// virDomainGetInfo, and AutoBalloon (arrow_autoballoon.h), which polls each
// running Arrow's statistics and moves its target; guest memory pressure
// (Anotify MEMORY_PRESSURE) deflates it at once.
#include <libvirt/libvirt.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "driver/arrow/arrow_driver.h"
#include "util/i18n.h"

namespace arrow {

namespace {

constexpr unsigned kSetMemoryFlags = VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG | VIR_DOMAIN_MEM_MAXIMUM;
constexpr unsigned kKiBPerMiB = 1024;

// The most the balloon may give the guest now: <currentMemory> (the last
// setmem, or the XML's) or else <memory>. AutoBalloon stays at or under it.
uint64_t balloon_ceiling_kib(const ArrowDef& def) { return def.current_memory_kib.value_or(def.memory_kib); }

Error no_balloon(const std::string& name) {
  return make_error(VIR_ERR_OPERATION_INVALID,
                    fmt(_("Arrow '%1$s' has no balloon (<memballoon model='none'>, "
                          "or no virtio transport was left for the default one): its memory cannot change while it "
                          "runs"),
                        name.c_str()));
}

void push(std::vector<MemoryStat>& out, int tag, const std::optional<uint64_t>& v) {
  if (v) out.push_back(MemoryStat{tag, *v});
}

uint64_t qemu_rss_kib(int pid) {
  if (pid <= 0) return 0;
  gchar* text = nullptr;
  if (!g_file_get_contents(fmt("/proc/%d/statm", pid).c_str(), &text, nullptr, nullptr)) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::sscanf(text, "%llu %llu", &size, &resident);
  g_free(text);
  return n == 2 ? resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) / 1024 : 0;
}

}  // namespace

// --- The balloon of one run ----------------------------------------------

void ArrowDriver::balloon_start(const DomainPtr& dom, bool adopted) {
  BalloonRun& b = dom->balloon;
  b.reset();
  if (!dom->launcher || !dom->launcher->has_balloon()) return;
  b.present = true;
  b.started_us = g_get_monotonic_time();
  b.target_kib = balloon_ceiling_kib(dom->def);
  Result<AutoBalloonConf> conf = metadata_autoballoon(dom->def, conf_.autoballoon);
  if (!conf.ok())
    log(fmt(_("Arrow '%1$s': AutoBalloon off: %2$s"), dom->name().c_str(), conf.error().message.c_str()));
  b.autoballoon = conf.ok() ? conf.value() : AutoBalloonConf{};
  // <currentMemory> below <memory>: the balloon starts at it. QEMU keeps the
  // target of an adopted Arrow, and AutoBalloon's own.
  if (!adopted && b.target_kib < dom->def.memory_kib) balloon_apply(dom, b.target_kib, _("<currentMemory>"));
  balloon_reconfigure(dom);
}

// The statistics period and the poll: the XML's <stats period> (or
// virDomainSetMemoryStatsPeriod's), at most AutoBalloon's interval while it runs.
void ArrowDriver::balloon_reconfigure(const DomainPtr& dom) {
  BalloonRun& b = dom->balloon;
  if (!b.present || !dom->launcher) return;
  if (Result<AutoBalloonConf> conf = metadata_autoballoon(dom->def, conf_.autoballoon); conf.ok())
    b.autoballoon = conf.value();
  unsigned period = dom->def.balloon.stats_period;
  if (b.autoballoon.enabled) period = period ? std::min(period, b.autoballoon.interval_s) : b.autoballoon.interval_s;
  if (period != b.period_s) {
    b.period_s = period;
    std::string name = dom->name();
    dom->launcher->balloon_set_stats_period(period, [this, name](Status st) {
      if (!st.ok())
        log(fmt(_("Arrow '%1$s': cannot set the balloon's statistics period: %2$s"), name.c_str(),
                st.error().message.c_str()));
    });
  }
  if (period == 0) return b.poll.stop();
  std::weak_ptr<ArrowDomain> weak = dom;
  b.poll.start(period, [this, weak] {
    if (DomainPtr d = weak.lock()) balloon_poll(d, nullptr);
  });
}

void ArrowDriver::balloon_stop(const DomainPtr& dom) { dom->balloon.reset(); }

// Queries the balloon; keeps the answer for domain stats and runs AutoBalloon
// on it; DONE (if any) gets it too.
void ArrowDriver::balloon_poll(const DomainPtr& dom, std::function<void(Result<BalloonInfo>)> done) {
  BalloonRun& b = dom->balloon;
  if (!b.present || !dom->launcher) {
    if (done) done(no_balloon(dom->name()));
    return;
  }
  if (!done && b.querying) return;  // the previous tick's query is still out
  b.querying = true;
  std::weak_ptr<ArrowDomain> weak = dom;
  ArrowLauncher* launcher = dom->launcher.get();
  launcher->balloon_query([this, weak, launcher, done](Result<BalloonInfo> info) {
    DomainPtr d = weak.lock();
    if (d && d->launcher.get() == launcher) {
      d->balloon.querying = false;
      if (info.ok()) {
        d->balloon.last = info.value();
        autoballoon_step(d);
      }
    }
    if (done) done(info);
  });
}

void ArrowDriver::balloon_apply(const DomainPtr& dom, uint64_t target_kib, const std::string& why) {
  BalloonRun& b = dom->balloon;
  const uint64_t from = b.target_kib;
  b.target_kib = target_kib;
  b.target_set_update = b.last && b.last->guest.last_update ? *b.last->guest.last_update : 0;
  const std::string line = fmt(_("balloon target %1$llu MiB (was %2$llu MiB): %3$s"),
                               static_cast<unsigned long long>(target_kib / kKiBPerMiB),
                               static_cast<unsigned long long>(from / kKiBPerMiB), why.c_str());
  log(fmt(_("Arrow '%1$s': %2$s"), dom->name().c_str(), line.c_str()));
  note_in_log(dom, line);
  std::string name = dom->name();
  dom->launcher->balloon_set_target(target_kib, [this, name](Status st) {
    if (!st.ok())
      log(fmt(_("Arrow '%1$s': cannot set the balloon's target: %2$s"), name.c_str(), st.error().message.c_str()));
  });
}

void ArrowDriver::autoballoon_step(const DomainPtr& dom) {
  BalloonRun& b = dom->balloon;
  if (!b.autoballoon.enabled || !b.last || dom->state != ArrowState::Running) return;
  const int64_t now = g_get_monotonic_time();
  AutoBalloonSample s;
  s.max_kib = balloon_ceiling_kib(dom->def);
  s.actual_kib = b.last->actual_kib;
  s.target_kib = b.target_kib;
  s.usable_kib = b.last->guest.usable_kib;
  s.fresh = b.last->guest.last_update && *b.last->guest.last_update > b.target_set_update;
  s.pressure = b.pressure_us && now - b.pressure_us < int64_t(b.autoballoon.hold_s) * G_USEC_PER_SEC;
  s.hold = now - b.started_us < int64_t(b.autoballoon.start_hold_s) * G_USEC_PER_SEC;
  std::optional<uint64_t> next = autoballoon_next_target(b.autoballoon, s);
  if (!next) return;
  const std::string why =
      s.pressure ? std::string(_("AutoBalloon: guest memory pressure"))
                 : fmt(_("AutoBalloon: the guest uses %1$llu MiB, %2$llu MiB available"),
                       static_cast<unsigned long long>((s.actual_kib - std::min(s.actual_kib, *s.usable_kib)) / kKiBPerMiB),
                       static_cast<unsigned long long>(*s.usable_kib / kKiBPerMiB));
  balloon_apply(dom, *next, why);
}

// Anotify MEMORY_PRESSURE: the guest stalled on memory. With less than half
// AutoBalloon's margin available that is pressure: deflate to the ceiling at
// once, whatever AutoBalloon thought, and hold it there a while. (A stall
// with plenty available is reclaim of page cache, e.g. by the balloon.)
void ArrowDriver::on_memory_pressure(const DomainPtr& dom, uint64_t available_kib) {
  BalloonRun& b = dom->balloon;
  if (!b.present || !b.autoballoon.enabled || available_kib * 2 >= b.autoballoon.margin_kib) return;
  b.pressure_us = g_get_monotonic_time();
  const uint64_t ceiling = balloon_ceiling_kib(dom->def);
  if (b.target_kib < ceiling) balloon_apply(dom, ceiling, _("guest memory pressure"));
}

// --- Entry points ---------------------------------------------------------

void ArrowDriver::domain_set_memory_flags(const DomainRef& ref, uint64_t kib, unsigned flags, Reply<void> done) {
  if (Status st = check_flags(flags, kSetMemoryFlags, "virDomainSetMemoryFlags"); !st.ok()) return done(st.error());
  Result<DomainPtr> found = find(ref);
  if (!found.ok()) return done(found.error());
  DomainPtr dom = found.value();
  Result<unsigned> impact = domain_modification_impact(*dom, flags);
  if (!impact.ok()) return done(impact.error());
  const bool live = impact.value() & VIR_DOMAIN_AFFECT_LIVE;
  const bool config = impact.value() & VIR_DOMAIN_AFFECT_CONFIG;
  if (kib < 16 * 1024)
    return done(make_error(VIR_ERR_INVALID_ARG,
                           fmt(_("%1$llu KiB: an Arrow needs at least 16 MiB of memory"),
                               static_cast<unsigned long long>(kib))));
  if (flags & VIR_DOMAIN_MEM_MAXIMUM) {
    if (live)
      return done(make_error(VIR_ERR_OPERATION_INVALID,
                             _("cannot resize the maximum memory on an active "
                               "domain")));
    ArrowDef def = dom->persistent_def();
    def.memory_kib = kib;
    if (def.current_memory_kib && *def.current_memory_kib > kib) def.current_memory_kib = kib;
    if (Status st = save_config(def); !st.ok()) return done(st.error());
    if (dom->active() || dom->job()) dom->next_def = std::move(def);
    else dom->def = std::move(def);
    return done({});
  }
  const uint64_t max = config ? dom->persistent_def().memory_kib : dom->def.memory_kib;
  if (kib > max || (live && kib > dom->def.memory_kib))
    return done(make_error(VIR_ERR_INVALID_ARG, _("cannot set memory higher than max memory")));
  if (live && !dom->balloon.present) return done(no_balloon(dom->name()));
  if (config) {
    ArrowDef def = dom->persistent_def();
    if (!def.balloon.present() && kib < def.memory_kib) return done(no_balloon(dom->name()));
    def.current_memory_kib = kib;
    if (Status st = save_config(def); !st.ok()) return done(st.error());
    if (dom->active() || dom->job()) dom->next_def = std::move(def);
    else dom->def = std::move(def);
  }
  if (live) {
    if (dom->persistent && !dom->next_def && !config) dom->next_def = dom->def;  // the config keeps its value
    dom->def.current_memory_kib = kib;
    write_status(dom);
    balloon_apply(dom, kib, _("virDomainSetMemory"));
  }
  done({});
}

void ArrowDriver::domain_memory_stats(const DomainRef& ref, unsigned nr_stats, unsigned flags,
                                      Reply<std::vector<MemoryStat>> done) {
  if (Status st = check_flags(flags, 0, "virDomainMemoryStats"); !st.ok()) return done(st.error());
  Result<DomainPtr> found = find(ref);
  if (!found.ok()) return done(found.error());
  DomainPtr dom = found.value();
  if (!dom->active()) return done(make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running")));
  auto answer = [this, dom, nr_stats, done](const std::optional<BalloonInfo>& info) {
    std::vector<MemoryStat> out = memory_stats(*dom, info);
    if (out.size() > nr_stats) out.resize(nr_stats);
    done(out);
  };
  if (!dom->balloon.present) return answer(std::nullopt);
  balloon_poll(dom, [answer](Result<BalloonInfo> info) {
    answer(info.ok() ? std::optional<BalloonInfo>(info.value()) : std::nullopt);
  });
}

// libvirt's tags in the order its QEMU driver gives them: the guest's
// statistics, the balloon's size, QEMU's resident memory.
std::vector<MemoryStat> ArrowDriver::memory_stats(const ArrowDomain& dom, const std::optional<BalloonInfo>& info) const {
  std::vector<MemoryStat> out;
  if (info) {
    const BalloonGuestStats& g = info->guest;
    push(out, VIR_DOMAIN_MEMORY_STAT_SWAP_IN, g.swap_in_kib);
    push(out, VIR_DOMAIN_MEMORY_STAT_SWAP_OUT, g.swap_out_kib);
    push(out, VIR_DOMAIN_MEMORY_STAT_MAJOR_FAULT, g.major_faults);
    push(out, VIR_DOMAIN_MEMORY_STAT_MINOR_FAULT, g.minor_faults);
    push(out, VIR_DOMAIN_MEMORY_STAT_UNUSED, g.unused_kib);
    push(out, VIR_DOMAIN_MEMORY_STAT_AVAILABLE, g.available_kib);
    push(out, VIR_DOMAIN_MEMORY_STAT_USABLE, g.usable_kib);
    push(out, VIR_DOMAIN_MEMORY_STAT_LAST_UPDATE, g.last_update);
    push(out, VIR_DOMAIN_MEMORY_STAT_DISK_CACHES, g.disk_caches_kib);
    push(out, VIR_DOMAIN_MEMORY_STAT_HUGETLB_PGALLOC, g.hugetlb_pgalloc);
    push(out, VIR_DOMAIN_MEMORY_STAT_HUGETLB_PGFAIL, g.hugetlb_pgfail);
  }
  out.push_back(MemoryStat{VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON, balloon_actual_kib(dom)});
  out.push_back(MemoryStat{VIR_DOMAIN_MEMORY_STAT_RSS, qemu_rss_kib(dom.qemu_pid)});
  return out;
}

uint64_t ArrowDriver::balloon_actual_kib(const ArrowDomain& dom) const {
  if (dom.active() && dom.balloon.present && dom.balloon.last) return dom.balloon.last->actual_kib;
  return balloon_ceiling_kib(dom.def);
}

void ArrowDriver::domain_set_memory_stats_period(const DomainRef& ref, int period, unsigned flags, Reply<void> done) {
  if (Status st = check_flags(flags, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG, "virDomainSetMemoryStatsPeriod");
      !st.ok())
    return done(st.error());
  if (period < 0 || period > 86400)
    return done(make_error(VIR_ERR_INVALID_ARG,
                           fmt(_("period %1$d: expected seconds from 0 to 86400"), period)));
  Result<DomainPtr> found = find(ref);
  if (!found.ok()) return done(found.error());
  DomainPtr dom = found.value();
  Result<unsigned> impact = domain_modification_impact(*dom, flags);
  if (!impact.ok()) return done(impact.error());
  const bool live = impact.value() & VIR_DOMAIN_AFFECT_LIVE;
  if (live && !dom->balloon.present) return done(no_balloon(dom->name()));
  if (impact.value() & VIR_DOMAIN_AFFECT_CONFIG) {
    ArrowDef def = dom->persistent_def();
    if (!def.balloon.present())
      return done(make_error(VIR_ERR_OPERATION_INVALID,
                             _("<memballoon model='none'> has no statistics")));
    def.balloon.stats_period = static_cast<unsigned>(period);
    def.balloon.specified = true;  // written out, so that the saved config keeps the period
    if (Status st = save_config(def); !st.ok()) return done(st.error());
    if (dom->active() || dom->job()) dom->next_def = std::move(def);
    else dom->def = std::move(def);
  }
  if (live) {
    if (dom->persistent && !dom->next_def) dom->next_def = dom->persistent_def();
    dom->def.balloon.stats_period = static_cast<unsigned>(period);
    write_status(dom);
    balloon_reconfigure(dom);
  }
  done({});
}

void ArrowDriver::add_balloon_stats(const ArrowDomain& dom, std::vector<TypedParam>& params) const {
  using T = TypedParam::Type;
  params.push_back(typed_param("balloon.current", T::ULLong, static_cast<int64_t>(balloon_actual_kib(dom))));
  params.push_back(typed_param("balloon.maximum", T::ULLong, static_cast<int64_t>(dom.def.memory_kib)));
  if (!dom.active() || !dom.balloon.present || !dom.balloon.last) return;
  const BalloonGuestStats& g = dom.balloon.last->guest;
  const std::pair<const char*, const std::optional<uint64_t>*> fields[] = {
      {"balloon.swap_in", &g.swap_in_kib},        {"balloon.swap_out", &g.swap_out_kib},
      {"balloon.major_fault", &g.major_faults},    {"balloon.minor_fault", &g.minor_faults},
      {"balloon.unused", &g.unused_kib},           {"balloon.available", &g.available_kib},
      {"balloon.usable", &g.usable_kib},           {"balloon.last-update", &g.last_update},
      {"balloon.disk_caches", &g.disk_caches_kib}, {"balloon.hugetlb_pgalloc", &g.hugetlb_pgalloc},
      {"balloon.hugetlb_pgfail", &g.hugetlb_pgfail},
  };
  for (const auto& [field, value] : fields)
    if (*value) params.push_back(typed_param(field, T::ULLong, static_cast<int64_t>(**value)));
  params.push_back(typed_param("balloon.rss", T::ULLong, static_cast<int64_t>(qemu_rss_kib(dom.qemu_pid))));
}

}  // namespace arrow
