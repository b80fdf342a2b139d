// What the driver does when a running Arrow's guest reports something: the
// launcher's events are wired here (launch_events), and each Anotify message
// from the engine's channel is handled here: it becomes an ArrowEvent for
// the front ends (arrow_events.h), the application's start is the libvirt
// STARTED/BOOTED event, heartbeats feed the heartbeat watch, and the facts
// are kept for the stats and live XML. The second of the four files a guest
// event crosses (ARCHITECTURE.md, "Paths").
#include <libvirt/libvirt.h>

#include "anotify/anotify_proto.h"
#include "domain-xml/uuid.h"
#include "driver/api/arrow_names.h"
#include "driver/arrow/arrow_driver.h"
#include "util/escape.h"
#include "util/i18n.h"

namespace arrow {

LaunchEvents ArrowDriver::launch_events(const DomainPtr& dom) {
  std::weak_ptr<ArrowDomain> weak = dom;
  LaunchEvents events;
  events.anotify = [this, weak](const AnotifyEvent& ev) {
    if (DomainPtr d = weak.lock()) on_anotify(d, ev);
  };
  events.exited = [this, weak](ExitCause cause) {
    if (DomainPtr d = weak.lock()) on_exited(d, cause);
  };
  events.console = [this, weak](std::span<const uint8_t> bytes) {
    if (DomainPtr d = weak.lock()) consoles_.output(uuid_format(d->def.uuid), bytes);
  };
  return events;
}

// A line in the daemon's log that the guest caused: its text escaped (no
// forged lines), at most AnotifyState::log_limit of them.
void ArrowDriver::guest_log(const DomainPtr& dom, const std::string& text) {
  if (!dom->anotify.log_limit.allow(g_get_monotonic_time())) return;
  const uint64_t suppressed = dom->anotify.log_limit.take_suppressed();
  log(fmt(_("Arrow '%1$s': %2$s"), dom->name().c_str(), escape_control(text).c_str()) +
      (suppressed ? fmt(_(" (%1$llu earlier lines from this guest suppressed)"),
                        static_cast<unsigned long long>(suppressed))
                  : std::string()));
}

// An event the guest caused, at most AnotifyState::event_limit of them.
void ArrowDriver::publish_guest(const DomainPtr& dom, ArrowEvent ev) {
  if (dom->anotify.event_limit.allow(g_get_monotonic_time())) publish(dom, std::move(ev));
}

void ArrowDriver::publish(const DomainPtr& dom, ArrowEvent ev) {
  ev.dom = dom->ref();
  events_.publish(ev);
}

void ArrowDriver::emit_started_once(const DomainPtr& dom) {
  if (dom->anotify.started_emitted) return;
  dom->anotify.started_emitted = true;
  emit(dom, VIR_DOMAIN_EVENT_STARTED,
       dom->restored_run ? VIR_DOMAIN_EVENT_STARTED_RESTORED : VIR_DOMAIN_EVENT_STARTED_BOOTED);
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
  publish_guest(dom, ev);
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

void ArrowDriver::on_anotify(const DomainPtr& dom, const AnotifyEvent& msg) {
  dom->boot_watch.stop();  // any message at all: ainit runs, the guest booted
  if (const auto* exited = std::get_if<AnotifyAppExited>(&msg)) return on_app_exited(dom, exited->status, exited->signal);
  if (const auto* started = std::get_if<AnotifyAppStarted>(&msg)) {
    consoles_.set_app_running(uuid_format(dom->def.uuid), true);
    return on_app_started(dom, started->pid);
  }
  if (const auto* oom = std::get_if<AnotifyOutOfMemory>(&msg)) {
    dom->anotify.oom = true;
    dom->anotify.oom_pid = oom->pid;
    if (oom->by == ANOTIFY_OOM_BY_INIT)
      guest_log(dom, fmt(_("ainit ended process %1$u: the guest was stalled on memory"), oom->pid));
    else if (oom->by == ANOTIFY_OOM_BY_KERNEL)
      guest_log(dom, fmt(_("the guest's OOM killer ended process %1$u"), oom->pid));
    else
      guest_log(dom, fmt(_("process %1$u was ended for want of memory (by %2$u)"), oom->pid, oom->by));
    ArrowEvent ev;
    ev.kind = ArrowEventKind::OutOfMemory;
    ev.pid = oom->pid;
    return publish_guest(dom, ev);
  }
  if (const auto* hb = std::get_if<AnotifyHeartbeat>(&msg)) {
    dom->anotify.last_heartbeat_ms = hb->uptime_ms;
    if (dom->anotify.watch.beat()) guest_log(dom, _("Anotify heartbeats resumed"));
    ArrowEvent ev;
    ev.kind = ArrowEventKind::Heartbeat;
    ev.uptime_ms = hb->uptime_ms;
    return publish_guest(dom, ev);
  }
  if (std::holds_alternative<AnotifyReady>(msg)) {
    dom->anotify.ready = true;
    guest_log(dom, _("the application is ready (READY=1)"));
    ArrowEvent ev;
    ev.kind = ArrowEventKind::AppReady;
    return publish_guest(dom, ev);
  }
  if (const auto* mp = std::get_if<AnotifyMemoryPressure>(&msg)) return on_memory_pressure(dom, mp->available_kib);
  if (const auto* err = std::get_if<AnotifyError>(&msg)) guest_log(dom, err->text);
  // BOOTED only tells that ainit runs; nothing waits for it.
}

// GET_ALL_DOMAIN_STATS fields of the "state" group (anotify/PROTOCOL.md):
// arrow.exit.status / arrow.exit.signal once the application exited,
// arrow.heartbeat.period (s), arrow.heartbeat.last_ms (guest uptime of the
// last heartbeat), arrow.heartbeat.missed (boolean), arrow.oom.pid.
void ArrowDriver::add_anotify_stats(const ArrowDomain& dom, std::vector<TypedParam>& params) const {
  using T = TypedParam::Type;
  if (dom.last_exit_status) {
    params.push_back(typed_param(kStatExitStatus, T::Int, *dom.last_exit_status));
    params.push_back(typed_param(kStatExitSignal, T::Int, dom.last_exit_signal));
  }
  if (!dom.active()) return;
  params.push_back(typed_param(kStatHeartbeatPeriod, T::UInt, dom.anotify.heartbeat_s));
  if (dom.anotify.last_heartbeat_ms)
    params.push_back(typed_param(kStatHeartbeatLastMs, T::ULLong, int64_t(*dom.anotify.last_heartbeat_ms)));
  params.push_back(typed_param(kStatHeartbeatMissed, T::Boolean, dom.anotify.watch.missed()));
  if (dom.anotify.oom) params.push_back(typed_param(kStatOomPid, T::UInt, dom.anotify.oom_pid));
  params.push_back(typed_param(kStatReady, T::Boolean, dom.anotify.ready));
  if (dom.launcher && !dom.launcher->image_source().empty()) {
    TypedParam image;
    image.field = kStatImage;
    image.type = T::String;
    image.s = dom.launcher->image_source();
    params.push_back(std::move(image));
  }
}

}  // namespace arrow
