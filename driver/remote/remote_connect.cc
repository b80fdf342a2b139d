// Handlers for the connection, host and event-registration procedures.
#include <cstring>

#include "driver/remote/remote_handlers.h"
#include "util/i18n.h"

namespace arrow::remote {

namespace procs {

namespace {

inline constexpr int kFeatureProgramKeepalive = 10;
inline constexpr int kFeatureRemoteEventCallback = 14;
inline constexpr int kFeatureRemoteCloseCallback = 15;
inline constexpr unsigned kOpenReadOnly = 1;  // REMOTE_DRIVER_OPEN_RO; USER and AUTOSTART mean nothing here
inline constexpr uint64_t kLibVersion = 9000000;
inline constexpr int kDomainEventIdLast = 27;  // VIR_DOMAIN_EVENT_ID_LAST in libvirt 9.0

// Accepts "arrow:///system", "arrow:///session" and the same with a query.
bool is_arrow_uri(const std::string& uri) {
  std::string path = uri.substr(0, uri.find('?'));
  return path == "arrow:///system" || path == "arrow:///session" || path == "arrow:///system/" ||
         path == "arrow:///session/";
}

}  // namespace

Status connect_open(Call& call, XdrWriter&) {
  std::optional<std::string> name = call.args.optional_string(kStringMax);
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  if (call.conn.opened) return make_error(VIR_ERR_INTERNAL_ERROR, _("internal error: connection already open"));
  if (name && !name->empty() && !is_arrow_uri(*name)) {
    return make_error(VIR_ERR_NO_CONNECT, fmt(_("no connection driver available for %1$s"), name->c_str()));
  }
  if (flags & kOpenReadOnly) call.conn.readonly = true;
  call.conn.opened = true;
  call.conn.client.set_opened();  // no longer anonymous to the transport's limits
  return {};
}

Status connect_close(Call& call, XdrWriter&) {
  call.conn.events.clear();
  call.conn.close_callback = false;
  call.conn.opened = false;
  return {};
}

Status connect_get_type(Call&, XdrWriter& ret) {
  ret.string("Arrow");
  return {};
}

Status connect_get_version(Call& call, XdrWriter& ret) {
  ret.u64(call.driver.hypervisor_version());
  return {};
}

Status connect_get_lib_version(Call&, XdrWriter& ret) {
  ret.u64(kLibVersion);
  return {};
}

Status node_get_info(Call& call, XdrWriter& ret) {
  NodeInfo info = call.driver.node_info();
  char model[32] = {};
  std::strncpy(model, info.model.c_str(), sizeof model - 1);
  for (char c : model) ret.i32(static_cast<signed char>(c));  // char[32]: 4 bytes per char
  ret.u64(info.memory_kib);
  for (unsigned v : {info.cpus, info.mhz, info.nodes, info.sockets, info.cores, info.threads}) ret.i32(int32_t(v));
  return {};
}

Status connect_get_capabilities(Call& call, XdrWriter& ret) {
  ret.string(call.driver.capabilities_xml());
  return {};
}

Status connect_get_hostname(Call& call, XdrWriter& ret) {
  ret.string(call.driver.hostname());
  return {};
}

Status connect_get_sysinfo(Call& call, XdrWriter& ret) {
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  TRY(check_flags(flags, 0, "virConnectGetSysinfo"));
  ret.string(call.driver.sysinfo_xml());
  return {};
}

Status connect_get_uri(Call& call, XdrWriter& ret) {
  ret.string(call.conn.daemon_uri);
  return {};
}

Status connect_is_secure(Call&, XdrWriter& ret) {
  ret.i32(1);  // a local unix socket
  return {};
}

Status connect_supports_feature(Call& call, XdrWriter& ret) {
  int feature = call.args.i32();
  TRY(decoded(call.args));
  bool supported = feature == kFeatureProgramKeepalive || feature == kFeatureRemoteEventCallback ||
                   feature == kFeatureRemoteCloseCallback;
  // Answering keepalive 1 is what obliges us to ping this client.
  if (feature == kFeatureProgramKeepalive) call.conn.client.enable_keepalive();
  ret.i32(supported ? 1 : 0);
  return {};
}

Status auth_list(Call&, XdrWriter& ret) {
  ret.u32(1);
  ret.i32(0);  // REMOTE_AUTH_NONE: access control is the socket's mode
  return {};
}

Status node_get_security_model(Call&, XdrWriter& ret) {
  ret.char_array_with_nul("");  // model: no security driver
  ret.char_array_with_nul("");  // doi
  return {};
}

// The daemon keeps no secrets: every lookup misses, with the code Nova's
// Host.find_secret takes for "no such secret" (NO_SUPPORT would read as a fault).
Status secret_lookup_by_usage(Call& call, XdrWriter&) {
  call.args.i32();  // usageType
  std::string usage_id = call.args.string(kStringMax);
  TRY(decoded(call.args));
  return make_error(VIR_ERR_NO_SECRET,
                    fmt(_("no secret with matching usage '%1$s'"), usage_id.c_str()));
}

Status node_get_cpu_map(Call& call, XdrWriter& ret) {
  int need_map = call.args.i32();
  int need_online = call.args.i32();
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  TRY(check_flags(flags, 0, "virNodeGetCPUMap"));
  unsigned cpus = call.driver.node_info().cpus;
  std::string map;
  if (need_map) {
    map.assign((cpus + 7) / 8, '\0');
    for (unsigned i = 0; i < cpus; i++) map[i / 8] = static_cast<char>(map[i / 8] | (1 << (i % 8)));
  }
  ret.opaque(map);
  ret.u32(need_online ? cpus : 0);
  ret.i32(static_cast<int32_t>(cpus));
  return {};
}

Status connect_get_domain_capabilities(Call& call, XdrWriter& ret) {
  auto emulator = call.args.optional_string(kStringMax);
  auto arch = call.args.optional_string(kStringMax);
  auto machine = call.args.optional_string(kStringMax);
  auto virttype = call.args.optional_string(kStringMax);
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  TRY(check_flags(flags, 0, "virConnectGetDomainCapabilities"));
  std::string xml = TRY(call.driver.domain_capabilities_xml(emulator.value_or(""), arch.value_or(""),
                                                             machine.value_or(""), virttype.value_or("")));
  ret.string(xml);
  return {};
}

Status connect_register_close_callback(Call& call, XdrWriter&) {
  call.conn.close_callback = true;
  return {};
}

Status connect_unregister_close_callback(Call& call, XdrWriter&) {
  call.conn.close_callback = false;
  return {};
}

namespace {

Status check_event_id(int event_id) {
  if (event_id >= 0 && event_id < kDomainEventIdLast) return {};
  return make_error(VIR_ERR_INVALID_ARG, fmt(_("invalid argument: unsupported event ID %1$d"), event_id));
}

// Each registration costs the daemon a MESSAGE per matching event: one
// connection may hold max_client_event_callbacks of them. The first refusal
// on a connection is logged.
Status check_event_room(Call& call) {
  RemoteSession& conn = call.conn;
  if (conn.events.size() < conn.max_event_callbacks) return {};
  if (!conn.event_limit_logged) {
    conn.event_limit_logged = true;
    conn.client.server().warn_limited("event limit",
                                      "client %llu: refusing event registrations past %zu (max_client_event_callbacks)",
                                      static_cast<unsigned long long>(conn.client.id()), conn.max_event_callbacks);
  }
  return make_error(VIR_ERR_OPERATION_FAILED,
                    fmt(_("operation failed: too many event callbacks on this connection (at most %1$zu)"),
                        conn.max_event_callbacks));
}

}  // namespace

// Registrations for event IDs other than LIFECYCLE succeed (libvirtd accepts
// them too); the daemon simply never has such events to send.
Status connect_domain_event_callback_register_any(Call& call, XdrWriter& ret) {
  int event_id = call.args.i32();
  std::optional<DomainRef> dom = read_optional_domain(call.args);
  TRY(decoded(call.args));
  TRY(check_event_id(event_id));
  TRY(check_event_room(call));
  EventRegistration reg{event_id, std::nullopt, false};
  if (dom) reg.dom = dom->uuid;
  int id = call.conn.next_callback_id++;
  call.conn.events.emplace(id, reg);
  ret.i32(id);
  return {};
}

Status connect_domain_event_callback_deregister_any(Call& call, XdrWriter&) {
  int id = call.args.i32();
  TRY(decoded(call.args));
  auto it = call.conn.events.find(id);
  if (it == call.conn.events.end() || it->second.legacy) {
    return make_error(VIR_ERR_INVALID_ARG, fmt(_("invalid argument: callback %1$d not registered"), id));
  }
  call.conn.events.erase(it);
  return {};
}

// Legacy registration (clients that got feature 14 = 0): one per event ID.
Status connect_domain_event_register_any(Call& call, XdrWriter&) {
  int event_id = call.args.i32();
  TRY(decoded(call.args));
  TRY(check_event_id(event_id));
  for (auto& [id, reg] : call.conn.events) {
    if (reg.legacy && reg.event_id == event_id) {
      return make_error(VIR_ERR_INTERNAL_ERROR, fmt(_("internal error: domain event %1$d already registered"),
                                                    event_id));
    }
  }
  TRY(check_event_room(call));
  call.conn.events.emplace(call.conn.next_callback_id++, EventRegistration{event_id, std::nullopt, true});
  return {};
}

Status connect_domain_event_deregister_any(Call& call, XdrWriter&) {
  int event_id = call.args.i32();
  TRY(decoded(call.args));
  for (auto it = call.conn.events.begin(); it != call.conn.events.end(); ++it) {
    if (it->second.legacy && it->second.event_id == event_id) {
      call.conn.events.erase(it);
      return {};
    }
  }
  return make_error(VIR_ERR_INTERNAL_ERROR, fmt(_("internal error: domain event %1$d not registered"), event_id));
}

}  // namespace procs
}  // namespace arrow::remote
