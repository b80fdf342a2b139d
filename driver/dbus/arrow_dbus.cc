// The D-Bus adapter (see arrow_dbus.h). Objects under
// /org/libvirt/Arrow/domain are a GDBus subtree enumerated from the driver at
// each call, so no per-Arrow registration has to follow the registry.
#include "driver/dbus/arrow_dbus.h"

#include <grp.h>
#include <libvirt/libvirt.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "driver/dbus/arrow_dbus_xml.h"  // kArrowDbusXml, generated from org.libvirt.Arrow.xml
#include "util/i18n.h"

namespace arrow {

namespace {

constexpr const char* kConnectIface = "org.libvirt.Connect";
constexpr const char* kDomainIface = "org.libvirt.Domain";
constexpr const char* kAnotifyIface = "org.libvirt.Arrow.Anotify";
constexpr const char* kErrorName = "org.libvirt.Error";  // libvirt-dbus's error name

// "_UUID" (a node name under kDbusDomainPrefix) back to a UUID.
Result<Uuid> uuid_of_node(const std::string& node) {
  if (node.size() < 2 || node[0] != '_')
    return make_error(VIR_ERR_NO_DOMAIN, fmt(_("no domain at D-Bus node '%1$s'"), node.c_str()));
  std::string text = node.substr(1);
  for (char& c : text)
    if (c == '_') c = '-';
  return uuid_parse(text);
}

void return_error(GDBusMethodInvocation* inv, const Error& error) {
  g_dbus_method_invocation_return_dbus_error(inv, kErrorName, error.message.c_str());
}

// The methods that change an Arrow: only for those who may use the
// read-write socket.
bool is_domain_method(const char* method) {
  return std::strcmp(method, "Create") == 0 || std::strcmp(method, "Destroy") == 0 ||
         std::strcmp(method, "Shutdown") == 0;
}

// UID's groups from the group database (its primary group included), for a
// bus that does not report the caller's own (UnixGroupIDs: dbus-daemon 1.14
// does not).
std::vector<gid_t> groups_of_user(uid_t uid) {
  std::vector<char> buf(16384);
  struct passwd pw, *found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found) return {};
  std::vector<gid_t> groups(32);
  for (int tries = 0; tries < 4; tries++) {
    int n = static_cast<int>(groups.size());
    if (::getgrouplist(found->pw_name, found->pw_gid, groups.data(), &n) >= 0) {
      groups.resize(static_cast<size_t>(n));
      return groups;
    }
    groups.resize(static_cast<size_t>(std::max(n, static_cast<int>(groups.size()) * 2)));
  }
  return {found->pw_gid};
}

// What a GetConnectionCredentials call is waiting for.
struct PendingCall {
  std::weak_ptr<ArrowDbus> dbus;
  std::string node;
  std::string method;
  guint32 flags;
  GDBusMethodInvocation* inv;  // answered exactly once
};

}  // namespace

bool dbus_caller_allowed(uid_t uid, const std::vector<gid_t>& groups, uid_t daemon_uid, const struct stat* rw_socket) {
  if (uid == 0 || uid == daemon_uid) return true;
  if (!rw_socket) return false;
  if (uid == rw_socket->st_uid) return rw_socket->st_mode & S_IWUSR;
  if (std::find(groups.begin(), groups.end(), rw_socket->st_gid) != groups.end()) return rw_socket->st_mode & S_IWGRP;
  return rw_socket->st_mode & S_IWOTH;
}

std::string dbus_domain_path(const Uuid& uuid) {
  std::string text = uuid_format(uuid);
  for (char& c : text)
    if (c == '-') c = '_';
  return std::string(kDbusDomainPrefix) + "/_" + text;
}

bool dbus_bus_type(GBusType& type) {
  const char* choice = std::getenv("VIRTARROWD_DBUS");
  std::string c = choice ? choice : "";
  if (c == "none") return false;
  if (c == "system" || c == "session") {
    type = c == "system" ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION;
    return true;
  }
  type = geteuid() == 0 ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION;
  return true;
}

// --- Setup ------------------------------------------------------------------

std::shared_ptr<ArrowDbus> ArrowDbus::start(DriverApi& driver, GBusType type, std::string rw_socket, LogFn log) {
  std::shared_ptr<ArrowDbus> self(new ArrowDbus(driver, std::move(rw_socket), std::move(log)));
  GError* error = nullptr;
  self->info_ = g_dbus_node_info_new_for_xml(kArrowDbusXml, &error);
  if (!self->info_) {  // the XML is compiled in: only a build error gets here
    self->log_(fmt(_("D-Bus interface description is invalid: %1$s"), error->message));
    g_error_free(error);
    return nullptr;
  }
  std::weak_ptr<ArrowDbus> weak = self;
  driver.subscribe([weak](const ArrowEvent& ev) {
    if (auto me = weak.lock()) me->on_event(ev);
  });
  self->owner_id_ = g_bus_own_name(
      type, kDbusName, G_BUS_NAME_OWNER_FLAGS_NONE,
      [](GDBusConnection* conn, const gchar*, gpointer me) { static_cast<ArrowDbus*>(me)->on_bus_acquired(conn); },
      nullptr,
      [](GDBusConnection* conn, const gchar*, gpointer me) { static_cast<ArrowDbus*>(me)->on_name_lost(conn); },
      self.get(), nullptr);
  return self;
}

ArrowDbus::~ArrowDbus() {
  if (conn_ && connect_reg_) g_dbus_connection_unregister_object(conn_, connect_reg_);
  if (conn_ && subtree_reg_) g_dbus_connection_unregister_subtree(conn_, subtree_reg_);
  if (owner_id_) g_bus_unown_name(owner_id_);
  if (info_) g_dbus_node_info_unref(info_);
}

// Objects are exported as soon as the bus is there, before the name is
// ours, as GDBus recommends (no call can arrive for an object not yet there).
void ArrowDbus::on_bus_acquired(GDBusConnection* conn) {
  conn_ = conn;
  GError* error = nullptr;
  connect_reg_ = g_dbus_connection_register_object(conn, kDbusConnectPath,
                                                   g_dbus_node_info_lookup_interface(info_, kConnectIface),
                                                   &kConnectVTable, this, nullptr, &error);
  if (error) {
    log_(fmt(_("cannot export D-Bus object '%1$s': %2$s"), kDbusConnectPath, error->message));
    g_clear_error(&error);
  }
  subtree_reg_ = g_dbus_connection_register_subtree(conn, kDbusDomainPrefix, &kSubtreeVTable,
                                                    G_DBUS_SUBTREE_FLAGS_NONE, this, nullptr, &error);
  if (error) {
    log_(fmt(_("cannot export D-Bus objects under '%1$s': %2$s"), kDbusDomainPrefix, error->message));
    g_clear_error(&error);
  }
}

// Called without a connection when no bus is reachable, with one when the
// name is taken or refused by the bus policy. Either way the daemon goes on;
// it says so once.
void ArrowDbus::on_name_lost(GDBusConnection* conn) {
  if (lost_logged_) return;
  lost_logged_ = true;
  if (!conn)
    log_(_("no D-Bus bus reachable: running without D-Bus"));
  else
    log_(fmt(_("cannot own the D-Bus name '%1$s' (taken, or not allowed by the bus policy): running without it"),
             kDbusName));
}

// --- Signals ----------------------------------------------------------------

void ArrowDbus::emit(const std::string& path, const char* iface, const char* signal, GVariant* args) {
  if (!conn_) {
    if (args) g_variant_unref(g_variant_ref_sink(args));
    return;
  }
  g_dbus_connection_emit_signal(conn_, nullptr, path.c_str(), iface, signal, args, nullptr);
}

void ArrowDbus::on_event(const ArrowEvent& ev) {
  const std::string path = dbus_domain_path(ev.dom.uuid);
  switch (ev.kind) {
    case ArrowEventKind::Lifecycle:
      emit(kDbusConnectPath, kConnectIface, "DomainEvent",
           g_variant_new("(oii)", path.c_str(), ev.event, ev.detail));
      if (ev.event == VIR_DOMAIN_EVENT_CRASHED && ev.detail == VIR_DOMAIN_EVENT_CRASHED_PANICKED)
        emit(path, kAnotifyIface, "Panicked", nullptr);
      return;
    case ArrowEventKind::AppStarted:
      return emit(path, kAnotifyIface, "ApplicationStarted", g_variant_new("(u)", ev.pid));
    case ArrowEventKind::AppExited:
      return emit(path, kAnotifyIface, "ApplicationExited", g_variant_new("(ii)", ev.status, ev.signal));
    case ArrowEventKind::OutOfMemory:
      return emit(path, kAnotifyIface, "OutOfMemory", nullptr);
    case ArrowEventKind::AppReady:
      return emit(path, kAnotifyIface, "ApplicationReady", nullptr);
    case ArrowEventKind::Heartbeat:
      return emit(path, kAnotifyIface, "Heartbeat", g_variant_new("(t)", static_cast<guint64>(ev.uptime_ms)));
    case ArrowEventKind::Reboot:
    case ArrowEventKind::HeartbeatMissed:
    case ArrowEventKind::MetadataChange:
      return;  // libvirt events only: the D-Bus API has no signal for them
  }
}

// --- The Connect object -----------------------------------------------------

const GDBusInterfaceVTable ArrowDbus::kConnectVTable = {
    [](GDBusConnection*, const gchar*, const gchar*, const gchar*, const gchar* method, GVariant* params,
       GDBusMethodInvocation* inv, gpointer me) {
      auto* self = static_cast<ArrowDbus*>(me);
      if (std::strcmp(method, "ListDomains") != 0) {
        g_dbus_method_invocation_return_dbus_error(inv, "org.freedesktop.DBus.Error.UnknownMethod", method);
        return;
      }
      guint32 flags = 0;
      g_variant_get(params, "(u)", &flags);
      GVariantBuilder b;
      g_variant_builder_init(&b, G_VARIANT_TYPE("ao"));
      for (const DomainRef& d : self->driver_.list_all_domains(flags))
        g_variant_builder_add(&b, "o", dbus_domain_path(d.uuid).c_str());
      g_dbus_method_invocation_return_value(inv, g_variant_new("(ao)", &b));
    },
    nullptr, nullptr, {}};

// --- The Arrow objects --------------------------------------------------------

// Every method of an Arrow changes it: first ask the bus who the caller is
// (asynchronously: the main loop never waits for the bus), then decide.
void ArrowDbus::domain_call(const std::string& node, const char* method, GVariant* params, GDBusMethodInvocation* inv) {
  if (!is_domain_method(method)) {
    g_dbus_method_invocation_return_dbus_error(inv, "org.freedesktop.DBus.Error.UnknownMethod", method);
    return;
  }
  guint32 flags = 0;
  g_variant_get(params, "(u)", &flags);
  const char* sender = g_dbus_method_invocation_get_sender(inv);
  if (!sender) {  // not through a bus: nobody to ask who it is
    return return_error(inv, make_error(VIR_ERR_ACCESS_DENIED, _("access denied: the D-Bus caller is unknown")));
  }
  auto* pending = new PendingCall{weak_from_this(), node, method, flags, inv};
  g_dbus_connection_call(
      g_dbus_method_invocation_get_connection(inv), "org.freedesktop.DBus", "/org/freedesktop/DBus",
      "org.freedesktop.DBus", "GetConnectionCredentials", g_variant_new("(s)", sender), G_VARIANT_TYPE("(a{sv})"),
      G_DBUS_CALL_FLAGS_NONE, -1, nullptr,
      [](GObject* source, GAsyncResult* result, gpointer data) {
        std::unique_ptr<PendingCall> call(static_cast<PendingCall*>(data));
        GError* error = nullptr;
        GVariant* credentials = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        std::shared_ptr<ArrowDbus> me = call->dbus.lock();
        if (!credentials || !me) {
          return_error(call->inv, make_error(VIR_ERR_ACCESS_DENIED,
                                             fmt(_("access denied: cannot identify the D-Bus caller: %1$s"),
                                                 error ? error->message : _("virtarrowd is stopping"))));
        } else {
          me->caller_known(credentials, call->node, call->method, call->flags, call->inv);
        }
        if (credentials) g_variant_unref(credentials);
        g_clear_error(&error);
      },
      pending);
}

void ArrowDbus::caller_known(GVariant* credentials, const std::string& node, const std::string& method,
                             guint32 flags, GDBusMethodInvocation* inv) {
  GVariant* dict = g_variant_get_child_value(credentials, 0);
  guint32 uid = 0;
  const bool have_uid = g_variant_lookup(dict, "UnixUserID", "u", &uid);
  std::vector<gid_t> groups;
  if (GVariant* gids = g_variant_lookup_value(dict, "UnixGroupIDs", G_VARIANT_TYPE("au"))) {
    gsize n = 0;
    const guint32* ids = static_cast<const guint32*>(g_variant_get_fixed_array(gids, &n, sizeof(guint32)));
    groups.assign(ids, ids + n);
    g_variant_unref(gids);
  } else if (have_uid) {
    groups = groups_of_user(uid);  // the bus's own report is better: a process may have left a group
  }
  g_variant_unref(dict);
  struct stat st;
  const bool have_socket = ::stat(rw_socket_.c_str(), &st) == 0;
  if (have_uid && dbus_caller_allowed(uid, groups, ::geteuid(), have_socket ? &st : nullptr))
    return run_domain_method(node, method, flags, inv);
  std::string who = have_uid ? fmt(_("uid %1$u"), uid) : std::string(_("a caller of unknown uid"));
  return_error(inv, make_error(VIR_ERR_ACCESS_DENIED,
                               fmt(_("access denied: %1$s may not call %2$s: only root, virtarrowd's own user and "
                                     "those who may use the read-write socket '%3$s' may change Arrows"),
                                   who.c_str(), method.c_str(), rw_socket_.c_str())));
}

void ArrowDbus::run_domain_method(const std::string& node, const std::string& method, guint32 flags,
                                  GDBusMethodInvocation* inv) {
  Result<Uuid> uuid = uuid_of_node(node);
  Result<DomainRef> dom = uuid.ok() ? driver_.lookup_by_uuid(uuid.value()) : Result<DomainRef>(uuid.error());
  if (!dom.ok()) return return_error(inv, dom.error());
  auto reply = [inv](Status st) {
    if (!st.ok()) return return_error(inv, st.error());
    g_dbus_method_invocation_return_value(inv, nullptr);
  };
  if (method == "Create")
    return driver_.domain_create(dom.value(), flags, [reply](Result<DomainRef> r) {
      reply(r.ok() ? Status() : Status(r.error()));
    });
  if (method == "Destroy") return driver_.domain_destroy(dom.value(), flags, [reply](Result<void> r) { reply(r); });
  driver_.domain_shutdown(dom.value(), flags, [reply](Result<void> r) { reply(r); });  // is_domain_method
}

GVariant* ArrowDbus::domain_property(const std::string& node, const char* property, GError** error) {
  Result<Uuid> uuid = uuid_of_node(node);
  Result<DomainRef> dom = uuid.ok() ? driver_.lookup_by_uuid(uuid.value()) : Result<DomainRef>(uuid.error());
  if (!dom.ok()) {
    g_set_error_literal(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT, dom.error().message.c_str());
    return nullptr;
  }
  const DomainRef& d = dom.value();
  if (std::strcmp(property, "Name") == 0) return g_variant_new_string(d.name.c_str());
  if (std::strcmp(property, "UUID") == 0) return g_variant_new_string(uuid_format(d.uuid).c_str());
  if (std::strcmp(property, "Id") == 0) return g_variant_new_uint32(static_cast<guint32>(d.id));  // as virDomainGetID
  if (std::strcmp(property, "Active") == 0) {
    Result<bool> active = driver_.domain_is_active(d);
    return g_variant_new_boolean(active.ok() && active.value());
  }
  if (std::strcmp(property, "Persistent") == 0) {
    Result<bool> persistent = driver_.domain_is_persistent(d);
    return g_variant_new_boolean(persistent.ok() && persistent.value());
  }
  g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "%s", property);
  return nullptr;
}

const GDBusInterfaceVTable ArrowDbus::kDomainVTable = {
    [](GDBusConnection*, const gchar*, const gchar* path, const gchar*, const gchar* method, GVariant* params,
       GDBusMethodInvocation* inv, gpointer me) {
      std::string p = path;
      static_cast<ArrowDbus*>(me)->domain_call(p.substr(p.rfind('/') + 1), method, params, inv);
    },
    [](GDBusConnection*, const gchar*, const gchar* path, const gchar*, const gchar* property, GError** error,
       gpointer me) -> GVariant* {
      std::string p = path;
      return static_cast<ArrowDbus*>(me)->domain_property(p.substr(p.rfind('/') + 1), property, error);
    },
    nullptr, {}};

const GDBusSubtreeVTable ArrowDbus::kSubtreeVTable = {
    // enumerate: one node per Arrow the driver knows now.
    [](GDBusConnection*, const gchar*, const gchar*, gpointer me) -> gchar** {
      auto* self = static_cast<ArrowDbus*>(me);
      std::vector<DomainRef> doms = self->driver_.list_all_domains(0);
      gchar** nodes = g_new0(gchar*, doms.size() + 1);
      for (size_t i = 0; i < doms.size(); i++) {
        std::string path = dbus_domain_path(doms[i].uuid);
        nodes[i] = g_strdup(path.c_str() + std::strlen(kDbusDomainPrefix) + 1);
      }
      return nodes;
    },
    // introspect: an Arrow node has the Domain and Anotify interfaces; the
    // subtree's root has none (only children).
    [](GDBusConnection*, const gchar*, const gchar*, const gchar* node, gpointer me) -> GDBusInterfaceInfo** {
      auto* self = static_cast<ArrowDbus*>(me);
      if (!node || !uuid_of_node(node).ok()) return nullptr;
      GDBusInterfaceInfo** out = g_new0(GDBusInterfaceInfo*, 3);
      out[0] = g_dbus_interface_info_ref(g_dbus_node_info_lookup_interface(self->info_, kDomainIface));
      out[1] = g_dbus_interface_info_ref(g_dbus_node_info_lookup_interface(self->info_, kAnotifyIface));
      return out;
    },
    // dispatch: the Domain interface's calls and properties; Anotify has only signals.
    [](GDBusConnection*, const gchar*, const gchar*, const gchar* iface, const gchar*, gpointer* user_data,
       gpointer me) -> const GDBusInterfaceVTable* {
      *user_data = me;  // GDBus does not preset it
      if (iface && std::strcmp(iface, kDomainIface) == 0) return &kDomainVTable;
      return nullptr;
    },
    {}};

}  // namespace arrow
