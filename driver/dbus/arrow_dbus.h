// The D-Bus front end, a sibling of the libvirt RPC program over DriverApi:
// owns org.libvirt.Arrow on the system bus (root) or the session bus (other
// users) and publishes libvirt-dbus's object model
// (driver/dbus/org.libvirt.Arrow.xml): the Connect object, one object per
// Arrow, their properties and methods through DriverApi, and ArrowEvents as
// signals. It translates, and decides one thing only: who may call the
// methods that change an Arrow (Create, Destroy, Shutdown), which is whoever
// may use the read-write socket (dbus_caller_allowed); properties,
// introspection, ListDomains and signals are open to all, as the read-only
// socket is. With no bus it logs once and the daemon runs on without it.
#pragma once

#include <gio/gio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "domain-xml/uuid.h"
#include "driver/api/driver_api.h"
#include "util/log.h"

namespace arrow {

inline constexpr const char* kDbusName = "org.libvirt.Arrow";
inline constexpr const char* kDbusConnectPath = "/org/libvirt/Arrow";
inline constexpr const char* kDbusDomainPrefix = "/org/libvirt/Arrow/domain";

// "/org/libvirt/Arrow/domain/_" + the UUID with '-' as '_'.
std::string dbus_domain_path(const Uuid& uuid);

// Which bus: VIRTARROWD_DBUS=none|system|session when set, else the system
// bus for root and the session bus otherwise. The bus addresses come from
// DBUS_SYSTEM_BUS_ADDRESS / DBUS_SESSION_BUS_ADDRESS as usual (tests point
// them at a private dbus-daemon). False: D-Bus is off.
bool dbus_bus_type(GBusType& type);

// Whether a D-Bus caller running as UID with the groups GROUPS may call the
// methods that change an Arrow: the policy of the read-write socket, whose
// stat() is RW_SOCKET (null when it cannot be read: then only root and the
// daemon's user). Allowed: root, DAEMON_UID, and whoever the kernel lets
// connect() to that socket (write permission by its owner, group and other
// bits, in that order: the socket's group with a group-writable mode, as
// virtarrowd.conf's unix_sock_group and unix_sock_rw_perms = "0660" make it).
bool dbus_caller_allowed(uid_t uid, const std::vector<gid_t>& groups, uid_t daemon_uid, const struct stat* rw_socket);

class ArrowDbus : public std::enable_shared_from_this<ArrowDbus> {
 public:
  // Starts owning the name (asynchronously, on the default main context) and
  // subscribes to DRIVER's events. DRIVER must outlive the returned object
  // (the daemon drops it first). RW_SOCKET is the read-write socket's path,
  // whose owner, group and mode say who may call the changing methods (read
  // at each call, so a chmod or chgrp of the socket applies at once).
  static std::shared_ptr<ArrowDbus> start(DriverApi& driver, GBusType type, std::string rw_socket, LogFn log);
  ~ArrowDbus();
  ArrowDbus(const ArrowDbus&) = delete;
  ArrowDbus& operator=(const ArrowDbus&) = delete;

 private:
  ArrowDbus(DriverApi& driver, std::string rw_socket, LogFn log)
      : driver_(driver), rw_socket_(std::move(rw_socket)), log_(std::move(log)) {}
  void on_bus_acquired(GDBusConnection* conn);
  void on_name_lost(GDBusConnection* conn);
  void on_event(const ArrowEvent& ev);
  void emit(const std::string& path, const char* iface, const char* signal, GVariant* args);
  void domain_call(const std::string& node, const char* method, GVariant* params, GDBusMethodInvocation* inv);
  // The caller's credentials arrived (GetConnectionCredentials): refuse it,
  // or run the method.
  void caller_known(GVariant* credentials, const std::string& node, const std::string& method, guint32 flags,
                    GDBusMethodInvocation* inv);
  void run_domain_method(const std::string& node, const std::string& method, guint32 flags,
                         GDBusMethodInvocation* inv);
  GVariant* domain_property(const std::string& node, const char* property, GError** error);
  static const GDBusInterfaceVTable kConnectVTable;
  static const GDBusInterfaceVTable kDomainVTable;
  static const GDBusSubtreeVTable kSubtreeVTable;

  DriverApi& driver_;
  std::string rw_socket_;
  LogFn log_;
  GDBusNodeInfo* info_ = nullptr;  // the shipped introspection XML, compiled in
  GDBusConnection* conn_ = nullptr;  // borrowed from GIO while the name is owned
  guint owner_id_ = 0;
  guint connect_reg_ = 0;
  guint subtree_reg_ = 0;
  bool lost_logged_ = false;
};

}  // namespace arrow
