// The libvirt side of events: each ArrowEvent that libvirt has a domain event
// for becomes one MESSAGE per matching registration, on every open
// connection, in occurrence order (the third of the four files a guest event
// crosses; ARCHITECTURE.md, "Paths"). Event procedure numbers come from the
// procedure table (remote_procs.cc), by name.
#include <libvirt/libvirt.h>

#include <optional>
#include <vector>

#include "driver/remote/remote_procs.h"
#include "driver/remote/remote_program.h"

namespace arrow::remote {

namespace {

// A libvirt domain event: its virDomainEventID and payload.
struct LibvirtEvent {
  int event_id = 0;
  int event = 0;   // LIFECYCLE: virDomainEventType; WATCHDOG: the action; METADATA_CHANGE: the type
  int detail = 0;  // LIFECYCLE only
  std::optional<std::string> nsuri;  // METADATA_CHANGE only
};

std::optional<LibvirtEvent> libvirt_event_of(const ArrowEvent& ev) {
  switch (ev.kind) {
    case ArrowEventKind::Lifecycle:
      return LibvirtEvent{VIR_DOMAIN_EVENT_ID_LIFECYCLE, ev.event, ev.detail};
    case ArrowEventKind::Reboot:
      return LibvirtEvent{VIR_DOMAIN_EVENT_ID_REBOOT, 0, 0};
    case ArrowEventKind::HeartbeatMissed:
      // The guest looks hung and nothing is done about it: a watchdog that fired with action "none".
      return LibvirtEvent{VIR_DOMAIN_EVENT_ID_WATCHDOG, VIR_DOMAIN_EVENT_WATCHDOG_NONE, 0};
    case ArrowEventKind::MetadataChange:
      return LibvirtEvent{VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, ev.metadata_type, 0, ev.uri};
    case ArrowEventKind::AppReady:
    case ArrowEventKind::AppStarted:
    case ArrowEventKind::AppExited:
    case ArrowEventKind::OutOfMemory:
    case ArrowEventKind::Heartbeat:
      return std::nullopt;  // D-Bus carries these
  }
  return std::nullopt;
}

// The MESSAGE procedure of EVENT_ID for a legacy or a callbackID
// registration; 0 when there is none (libvirt has no legacy message for the
// events added after callbackIDs, METADATA_CHANGE among them, and sends them
// to legacy registrations not at all).
int event_procedure(int event_id, bool legacy) {
  static const int lifecycle[2] = {proc_number("DOMAIN_EVENT_CALLBACK_LIFECYCLE"), proc_number("DOMAIN_EVENT_LIFECYCLE")};
  static const int reboot[2] = {proc_number("DOMAIN_EVENT_CALLBACK_REBOOT"), proc_number("DOMAIN_EVENT_REBOOT")};
  static const int watchdog[2] = {proc_number("DOMAIN_EVENT_CALLBACK_WATCHDOG"), proc_number("DOMAIN_EVENT_WATCHDOG")};
  static const int metadata_change[2] = {proc_number("DOMAIN_EVENT_CALLBACK_METADATA_CHANGE"), 0};
  switch (event_id) {
    case VIR_DOMAIN_EVENT_ID_LIFECYCLE: return lifecycle[legacy];
    case VIR_DOMAIN_EVENT_ID_REBOOT: return reboot[legacy];
    case VIR_DOMAIN_EVENT_ID_WATCHDOG: return watchdog[legacy];
    case VIR_DOMAIN_EVENT_ID_METADATA_CHANGE: return metadata_change[legacy];
    default: return 0;
  }
}

std::string encode_event(const LibvirtEvent& lev, const DomainRef& dom, int callback_id, bool legacy) {
  XdrWriter w;
  if (!legacy) w.i32(callback_id);
  write_domain(w, dom);
  if (lev.event_id != VIR_DOMAIN_EVENT_ID_REBOOT) w.i32(lev.event);  // lifecycle event, watchdog action, metadata type
  if (lev.event_id == VIR_DOMAIN_EVENT_ID_LIFECYCLE) w.i32(lev.detail);
  if (lev.event_id == VIR_DOMAIN_EVENT_ID_METADATA_CHANGE) w.optional_string(lev.nsuri);
  MessageHeader h{kRemoteProgram, rpc::kProgramVersion, event_procedure(lev.event_id, legacy),
                  rpc::MessageType::Message, 1, rpc::MessageStatus::Ok};
  return rpc::encode_frame(h, w.bytes());
}

}  // namespace

void RemoteProgram::subscribe_events() {
  alive_ = std::make_shared<RemoteProgram*>(this);
  std::weak_ptr<RemoteProgram*> weak = alive_;
  driver_.subscribe([weak](const ArrowEvent& ev) {
    if (auto program = weak.lock()) (*program)->deliver(ev);
  });
}

void RemoteProgram::deliver(const ArrowEvent& ev) {
  std::optional<LibvirtEvent> lev = libvirt_event_of(ev);
  if (!lev) return;
  // Sending may close a client (and end its session): hold them first.
  std::vector<std::shared_ptr<Client>> clients;
  for (RemoteSession* s : sessions_) {
    if (s->opened) clients.push_back(s->client.shared_from_this());
  }
  for (auto& c : clients) {
    if (c->closed()) continue;
    auto& conn = static_cast<RemoteSession&>(c->session());
    for (auto& [cb, reg] : conn.events) {
      if (reg.event_id != lev->event_id || (reg.dom && *reg.dom != ev.dom.uuid)) continue;
      if (event_procedure(lev->event_id, reg.legacy) == 0) continue;
      c->send(encode_event(*lev, ev.dom, cb, reg.legacy));
      if (c->closed()) break;  // dropped (output bounds): its session, and CONN, are gone
    }
  }
}

}  // namespace arrow::remote
