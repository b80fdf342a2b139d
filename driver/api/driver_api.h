// The one internal API between virtarrowd's front ends and the Arrow
// hypervisor driver: every libvirt API the daemon serves for domains and the
// host, as the driver implements it, and the events it reports. The libvirt
// RPC program (driver/remote/) and the D-Bus front end (driver/dbus/) are
// siblings over it; the driver (driver/arrow/) never sees XDR or D-Bus.
//
// Contract: the daemon is single-threaded on the GLib main loop. Calls that
// may take long (start, stop, reboot, suspend, resume) complete through a
// callback, possibly later; every other call answers at once. Callbacks are
// invoked exactly once, from the main loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "domain-xml/arrow_def.h"
#include "util/byte_stream.h"
#include "util/i18n.h"
#include "util/result.h"

namespace arrow {

// remote_nonnull_domain: what the wire needs to name a domain.
struct DomainRef {
  std::string name;
  Uuid uuid{};
  int id = -1;  // -1 when shut off
};

// virDomainInfo.
struct DomainInfo {
  int state = 0;  // virDomainState
  uint64_t max_mem_kib = 0;
  uint64_t memory_kib = 0;
  unsigned nr_virt_cpu = 0;
  uint64_t cpu_time_ns = 0;
};

struct DomainStateInfo {
  int state = 0;   // virDomainState
  int reason = 0;  // the matching virDomain*Reason
};

// One typed parameter of GET_ALL_DOMAIN_STATS.
struct TypedParam {
  enum class Type { Int = 1, UInt = 2, LLong = 3, ULLong = 4, Double = 5, Boolean = 6, String = 7 };
  std::string field;
  Type type = Type::Int;
  int64_t i = 0;  // Int, UInt, LLong, ULLong (as bits), Boolean
  double d = 0;
  std::string s;
};

// A typed parameter of an integer type (Int, UInt, LLong, ULLong, Boolean).
inline TypedParam typed_param(std::string field, TypedParam::Type type, int64_t value) {
  TypedParam p;
  p.field = std::move(field);
  p.type = type;
  p.i = value;
  return p;
}

// virDomainInterfaceAddresses' answer: one interface, its addresses.
struct GuestIpAddress {
  int type = 0;  // VIR_IP_ADDR_TYPE_IPV4 / _IPV6
  std::string addr;
  unsigned prefix = 0;
};
struct GuestInterface {
  std::string name;
  std::optional<std::string> hwaddr;
  std::vector<GuestIpAddress> addrs;
};

// virDomainGetFSInfo's answer: one mounted file system of the guest.
struct GuestFsInfo {
  std::string mountpoint;
  std::string name;
  std::string fstype;
  std::vector<std::string> dev_aliases;  // the domain's disks under it (an Arrow has none)
};

// virDomainGetTime's answer.
struct GuestTime {
  int64_t seconds = 0;
  unsigned nseconds = 0;
};

struct DomainStatsRecord {
  DomainRef dom;
  std::vector<TypedParam> params;
};

// virNodeInfo.
struct NodeInfo {
  std::string model;
  uint64_t memory_kib = 0;
  unsigned cpus = 0;
  unsigned mhz = 0;
  unsigned nodes = 1;
  unsigned sockets = 1;
  unsigned cores = 1;
  unsigned threads = 1;
};

// What happened to an Arrow, as the driver tells its front ends: the libvirt
// RPC program (driver/remote) turns the kinds libvirt has an event for
// (Lifecycle, Reboot, HeartbeatMissed, MetadataChange) into libvirt domain
// events, the D-Bus front end (driver/dbus) turns the kinds its interfaces
// name into signals. The driver decides what happened; the front ends only
// translate (see anotify/PROTOCOL.md, "Events").
enum class ArrowEventKind {
  Lifecycle,        // a libvirt lifecycle event: `event` (virDomainEventType) and `detail`
  Reboot,           // the Arrow was rebooted (virDomainReboot): libvirt's REBOOT event
  HeartbeatMissed,  // no heartbeat for 3 periods: libvirt's WATCHDOG event, action none
  AppStarted,       // Anotify APP_STARTED: `pid`
  AppExited,        // Anotify APP_EXITED: `status`, `signal`
  OutOfMemory,      // Anotify OOM: `pid` (0 if unknown)
  Heartbeat,        // Anotify HEARTBEAT: `uptime_ms` (guest)
  MetadataChange,   // virDomainSetMetadata succeeded: `metadata_type`, `uri` (ELEMENT only);
                    // libvirt's METADATA_CHANGE event
};

struct ArrowEvent {
  ArrowEventKind kind = ArrowEventKind::Lifecycle;
  DomainRef dom;
  int event = 0;   // Lifecycle
  int detail = 0;  // Lifecycle
  uint32_t pid = 0;
  int32_t status = 0;
  int32_t signal = 0;
  uint64_t uptime_ms = 0;
  int metadata_type = 0;           // MetadataChange: virDomainMetadataType
  std::optional<std::string> uri;  // MetadataChange: the element's namespace
};

// libvirt's answer to flag bits an API does not know (INVALID_ARG), with its
// wording; API names the libvirt function (virDomainCreateWithFlags).
inline Status check_flags(unsigned flags, unsigned known, const char* api) {
  if ((flags & ~known) == 0) return {};
  return make_error(VIR_ERR_INVALID_ARG,
                    fmt(_("invalid argument: unsupported flags (0x%1$x) in function %2$s"), flags & ~known, api));
}

template <typename T>
using Reply = std::function<void(Result<T>)>;

class DriverApi {
 public:
  virtual ~DriverApi() = default;

  // Called once by the daemon after every front end subscribed: loads the
  // saved configs, adopts running Arrows and starts the autostart ones.
  virtual Status load() { return {}; }

  // Host.
  virtual std::string hostname() = 0;
  virtual std::string capabilities_xml() = 0;
  virtual Result<std::string> domain_capabilities_xml(const std::string& emulator, const std::string& arch,
                                                      const std::string& machine, const std::string& virttype) = 0;
  virtual NodeInfo node_info() = 0;
  virtual uint64_t hypervisor_version() = 0;  // major*1000000 + minor*1000 + micro
  virtual std::string sysinfo_xml() = 0;

  // Listing and lookup (flags: virConnectListAllDomainsFlags).
  virtual std::vector<DomainRef> list_all_domains(unsigned flags) = 0;
  virtual Result<DomainRef> lookup_by_name(const std::string& name) = 0;
  virtual Result<DomainRef> lookup_by_uuid(const Uuid& uuid) = 0;
  virtual Result<DomainRef> lookup_by_id(int id) = 0;
  virtual int num_of_domains() = 0;          // running
  virtual int num_of_defined_domains() = 0;  // persistent, shut off

  // Definitions.
  virtual Result<DomainRef> domain_define_xml(const std::string& xml, unsigned flags) = 0;
  virtual Status domain_undefine(const DomainRef& dom, unsigned flags) = 0;

  // Lifecycle (asynchronous completion).
  virtual void domain_create_xml(const std::string& xml, unsigned flags, Reply<DomainRef> done) = 0;
  virtual void domain_create(const DomainRef& dom, unsigned flags, Reply<DomainRef> done) = 0;
  virtual void domain_destroy(const DomainRef& dom, unsigned flags, Reply<void> done) = 0;
  virtual void domain_shutdown(const DomainRef& dom, unsigned flags, Reply<void> done) = 0;
  virtual void domain_reboot(const DomainRef& dom, unsigned flags, Reply<void> done) = 0;
  virtual void domain_suspend(const DomainRef& dom, Reply<void> done) = 0;
  virtual void domain_resume(const DomainRef& dom, Reply<void> done) = 0;

  // Information.
  virtual Result<DomainInfo> domain_get_info(const DomainRef& dom) = 0;
  virtual Result<DomainStateInfo> domain_get_state(const DomainRef& dom) = 0;
  virtual Result<std::string> domain_get_xml_desc(const DomainRef& dom, unsigned flags) = 0;
  virtual Result<bool> domain_get_autostart(const DomainRef& dom) = 0;
  virtual Status domain_set_autostart(const DomainRef& dom, bool autostart) = 0;
  virtual Result<bool> domain_is_active(const DomainRef& dom) = 0;
  virtual Result<bool> domain_is_persistent(const DomainRef& dom) = 0;
  virtual Result<uint64_t> domain_get_max_memory(const DomainRef& dom) = 0;
  virtual Result<std::vector<DomainStatsRecord>> get_all_domain_stats(unsigned stats, unsigned flags) = 0;

  // Streams and signals. OPEN_CONSOLE (virDomainOpenConsole: DEV_NAME none
  // is the primary console; flags VIR_DOMAIN_CONSOLE_FORCE / _SAFE) and
  // OPEN_CHANNEL (virDomainOpenChannel) attach PEER and return the sink for
  // the client's bytes. The driver sends nothing on PEER before it returns
  // (the RPC layer holds output back until its reply is out).
  virtual Result<std::shared_ptr<StreamSink>> domain_open_console(const DomainRef&,
                                                                  const std::optional<std::string>& /*dev_name*/,
                                                                  unsigned /*flags*/, std::shared_ptr<StreamPeer>) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainOpenConsole"));
  }
  virtual Result<std::shared_ptr<StreamSink>> domain_open_channel(const DomainRef&,
                                                                  const std::optional<std::string>& /*name*/,
                                                                  unsigned /*flags*/, std::shared_ptr<StreamPeer>) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainOpenChannel"));
  }
  // The guest agent (virDomainGetHostname, GetTime, SetTime,
  // InterfaceAddresses, GetFSInfo, GetGuestInfo): answered once the guest
  // agent answers, or with its timeout.
  virtual void domain_get_hostname(const DomainRef&, unsigned /*flags*/, Reply<std::string> done) {
    done(make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainGetHostname")));
  }
  virtual void domain_get_time(const DomainRef&, unsigned /*flags*/, Reply<GuestTime> done) {
    done(make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainGetTime")));
  }
  virtual void domain_set_time(const DomainRef&, GuestTime /*time*/, unsigned /*flags*/, Reply<void> done) {
    done(make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainSetTime")));
  }
  virtual void domain_interface_addresses(const DomainRef&, unsigned /*source*/, unsigned /*flags*/,
                                          Reply<std::vector<GuestInterface>> done) {
    done(make_error(VIR_ERR_NO_SUPPORT,
                    _("this function is not supported by the connection driver: virDomainInterfaceAddresses")));
  }
  virtual void domain_get_fsinfo(const DomainRef&, unsigned /*flags*/, Reply<std::vector<GuestFsInfo>> done) {
    done(make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainGetFSInfo")));
  }
  virtual void domain_get_guest_info(const DomainRef&, unsigned /*types*/, unsigned /*flags*/,
                                     Reply<std::vector<TypedParam>> done) {
    done(make_error(VIR_ERR_NO_SUPPORT,
                    _("this function is not supported by the connection driver: virDomainGetGuestInfo")));
  }

  // virDomainSendProcessSignal: SIGNUM (virDomainProcessSignal, Linux
  // numbering) to process PID of the guest.
  virtual Status domain_send_process_signal(const DomainRef&, int64_t /*pid*/, unsigned /*signum*/,
                                            unsigned /*flags*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainSendProcessSignal"));
  }

  // virDomainGetMetadata / virDomainSetMetadata. TYPE is virDomainMetadataType
  // (DESCRIPTION, TITLE, ELEMENT); URI names an ELEMENT's namespace and KEY its
  // prefix; an absent METADATA removes it. FLAGS: VIR_DOMAIN_AFFECT_LIVE,
  // VIR_DOMAIN_AFFECT_CONFIG (neither: CURRENT).
  virtual Result<std::string> domain_get_metadata(const DomainRef&, int /*type*/,
                                                  const std::optional<std::string>& /*uri*/, unsigned /*flags*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainGetMetadata"));
  }
  virtual Status domain_set_metadata(const DomainRef&, int /*type*/, const std::optional<std::string>& /*metadata*/,
                                     const std::optional<std::string>& /*key*/,
                                     const std::optional<std::string>& /*uri*/, unsigned /*flags*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainSetMetadata"));
  }

  // Events: the driver calls every subscriber for every event, in order, on
  // the main loop. Each front end subscribes once.
  using EventListener = std::function<void(const ArrowEvent&)>;
  virtual void subscribe(EventListener listener) = 0;
};

}  // namespace arrow
