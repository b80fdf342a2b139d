// ArrowDriver's handling of Anotify messages from running Arrows: each
// becomes an ArrowEvent on the driver's EventBus (arrow_events.h), the
// application's start is the libvirt STARTED/BOOTED event, heartbeats feed
// the heartbeat watch, and the facts are kept for the stats and live XML.
#include <libvirt/libvirt.h>

#include "driver/arrow/arrow_driver.h"
#include "util/i18n.h"

namespace arrow {

namespace {

TypedParam stat_param(std::string field, TypedParam::Type type, int64_t value) {
  TypedParam p;
  p.field = std::move(field);
  p.type = type;
  p.i = value;
  return p;
}

}  // namespace

void ArrowDriver::publish(const DomainPtr& dom, ArrowEvent ev) {
  ev.dom = dom->ref();
  events_.publish(ev);
}

void ArrowDriver::emit_started_once(const DomainPtr& dom) {
  if (dom->anotify.started_emitted) return;
  dom->anotify.started_emitted = true;
  emit(dom, VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED);
}

// The application runs: that, not QEMU's start, is an Arrow's boot. The
// heartbeat watch starts with it (ainit's first heartbeat comes one period
// after the application started).
void ArrowDriver::on_app_started(const DomainPtr& dom, uint32_t pid) {
  if (!dom->active()) return;
  emit_started_once(dom);
  ArrowEvent ev;
  ev.kind = ArrowEventKind::AppStarted;
  ev.pid = pid;
  publish(dom, ev);
  std::weak_ptr<ArrowDomain> weak = dom;
  dom->anotify.watch.start(dom->anotify.heartbeat_s, [this, weak] {
    if (DomainPtr d = weak.lock()) on_heartbeat_missed(d);
  });
}

void ArrowDriver::on_heartbeat_missed(const DomainPtr& dom) {
  if (dom->state == ArrowState::Paused) {  // a paused guest cannot beat
    dom->anotify.watch.beat();
    return;
  }
  log(fmt(_("Arrow '%1$s': no Anotify heartbeat for %2$u s (3 periods of %3$u s); the guest may be hung"),
          dom->name().c_str(), 3 * dom->anotify.heartbeat_s, dom->anotify.heartbeat_s));
  ArrowEvent ev;
  ev.kind = ArrowEventKind::HeartbeatMissed;
  publish(dom, ev);
}

// APP_EXITED arrives through LaunchEvents::app_exited (on_app_exited).
void ArrowDriver::on_anotify(const DomainPtr& dom, const AnotifyEvent& msg) {
  dom->boot_watch.stop();  // any message at all: ainit runs, the guest booted
  if (const auto* started = std::get_if<AnotifyAppStarted>(&msg)) return on_app_started(dom, started->pid);
  if (const auto* oom = std::get_if<AnotifyOutOfMemory>(&msg)) {
    dom->anotify.oom = true;
    dom->anotify.oom_pid = oom->pid;
    log(fmt(_("Arrow '%1$s': the guest's OOM killer ended process %2$u"), dom->name().c_str(), oom->pid));
    ArrowEvent ev;
    ev.kind = ArrowEventKind::OutOfMemory;
    ev.pid = oom->pid;
    return publish(dom, ev);
  }
  if (const auto* hb = std::get_if<AnotifyHeartbeat>(&msg)) {
    dom->anotify.last_heartbeat_ms = hb->uptime_ms;
    if (dom->anotify.watch.beat())
      log(fmt(_("Arrow '%1$s': Anotify heartbeats resumed"), dom->name().c_str()));
    ArrowEvent ev;
    ev.kind = ArrowEventKind::Heartbeat;
    ev.uptime_ms = hb->uptime_ms;
    return publish(dom, ev);
  }
  if (const auto* err = std::get_if<AnotifyError>(&msg))
    log(fmt(_("Arrow '%1$s': %2$s"), dom->name().c_str(), err->text.c_str()));
  // BOOTED only tells that ainit runs; nothing waits for it.
}

// GET_ALL_DOMAIN_STATS fields of the "state" group (anotify/PROTOCOL.md):
// arrow.exit.status / arrow.exit.signal once the application exited,
// arrow.heartbeat.period (s), arrow.heartbeat.last_ms (guest uptime of the
// last heartbeat), arrow.heartbeat.missed (boolean), arrow.oom.pid.
void ArrowDriver::add_anotify_stats(const ArrowDomain& dom, std::vector<TypedParam>& params) const {
  using T = TypedParam::Type;
  if (dom.last_exit_status) {
    params.push_back(stat_param("arrow.exit.status", T::Int, *dom.last_exit_status));
    params.push_back(stat_param("arrow.exit.signal", T::Int, dom.last_exit_signal));
  }
  if (!dom.active()) return;
  params.push_back(stat_param("arrow.heartbeat.period", T::UInt, dom.anotify.heartbeat_s));
  if (dom.anotify.last_heartbeat_ms)
    params.push_back(stat_param("arrow.heartbeat.last_ms", T::ULLong, int64_t(*dom.anotify.last_heartbeat_ms)));
  params.push_back(stat_param("arrow.heartbeat.missed", T::Boolean, dom.anotify.watch.missed()));
  if (dom.anotify.oom) params.push_back(stat_param("arrow.oom.pid", T::UInt, dom.anotify.oom_pid));
}

}  // namespace arrow
