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

// One virDomainMemoryStatStruct: TAG is virDomainMemoryStatTags.
struct MemoryStat {
  int tag = 0;
  uint64_t val = 0;
};

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

// One field of virNodeGetCPUStats / virNodeGetMemoryStats (virNodeCPUStats,
// virNodeMemoryStats): nanoseconds or KiB.
struct NodeStat {
  std::string field;
  uint64_t value = 0;
};

// virVcpuInfo of one vCPU, with its affinity: AFFINITY[i] is host CPU i.
struct VcpuInfo {
  unsigned number = 0;
  int state = 1;  // virVcpuState: VIR_VCPU_RUNNING
  uint64_t cpu_time_ns = 0;
  int cpu = -1;  // the host CPU it last ran on
  std::vector<bool> affinity;
};

// virDomainInterfaceStats: the guest's view (rx: what the guest received).
struct InterfaceStats {
  int64_t rx_bytes = -1, rx_packets = -1, rx_errs = -1, rx_drop = -1;
  int64_t tx_bytes = -1, tx_packets = -1, tx_errs = -1, tx_drop = -1;
};

// virDomainInterface: one interface and its addresses (type: virIPAddrType).
struct DomainInterfaceAddrs {
  struct Addr {
    int type = 0;  // VIR_IP_ADDR_TYPE_IPV4
    std::string addr;
    unsigned prefix = 0;
  };
  std::string name;
  std::optional<std::string> hwaddr;
  std::vector<Addr> addrs;
};

// virDomainControlInfo.
struct DomainControlInfo {
  unsigned state = 0;    // virDomainControlState
  unsigned details = 0;  // virDomainControlErrorReason
  uint64_t state_time_ms = 0;
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
  AppReady,         // Anotify READY: the application said READY=1 (systemd's notify protocol)
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
  // virDomainInterfaceAddresses, the one entry point of the REMOTE program:
  // by default the synchronous form below (the lease and ARP sources, from
  // the configuration and the host); a driver with a guest agent answers
  // source AGENT itself and passes the others here.
  virtual void domain_interface_addresses(const DomainRef& dom, unsigned source, unsigned flags,
                                          Reply<std::vector<GuestInterface>> done) {
    Result<std::vector<DomainInterfaceAddrs>> known = domain_interface_addresses(dom, source, flags);
    if (!known.ok()) return done(known.error());
    std::vector<GuestInterface> out;
    for (const DomainInterfaceAddrs& i : *known) {
      GuestInterface g;
      g.name = i.name;
      g.hwaddr = i.hwaddr;
      for (const auto& a : i.addrs) g.addrs.push_back(GuestIpAddress{a.type, a.addr, a.prefix});
      out.push_back(std::move(g));
    }
    done(std::move(out));
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

  // The balloon. virDomainSetMemoryFlags (virDomainSetMemory is LIVE):
  // KIB the new balloon target (FLAGS VIR_DOMAIN_AFFECT_*, VIR_DOMAIN_MEM_MAXIMUM);
  // virDomainMemoryStats: at most NR_STATS of libvirt's statistics;
  // virDomainSetMemoryStatsPeriod: the guest's statistics every PERIOD s.
  virtual void domain_set_memory_flags(const DomainRef&, uint64_t /*kib*/, unsigned /*flags*/, Reply<void> done) {
    done(make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainSetMemoryFlags")));
  }
  virtual void domain_memory_stats(const DomainRef&, unsigned /*nr_stats*/, unsigned /*flags*/,
                                   Reply<std::vector<MemoryStat>> done) {
    done(make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainMemoryStats")));
  }
  virtual void domain_set_memory_stats_period(const DomainRef&, int /*period*/, unsigned /*flags*/, Reply<void> done) {
    done(make_error(VIR_ERR_NO_SUPPORT,
                    _("this function is not supported by the connection driver: virDomainSetMemoryStatsPeriod")));
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

  // Saved images (ARCHITECTURE.md, "Templates"): virDomainSave(Flags) to
  // the file TO (DXML: the XML the image keeps, FLAGS: VIR_DOMAIN_SAVE_*),
  // virDomainRestore(Flags) from FROM (DXML: the restored Arrow's XML, which
  // may change only what a clone may), the XML in an image and its
  // replacement, and the managed save image of an Arrow.
  virtual void domain_save(const DomainRef&, const std::string& /*to*/, const std::optional<std::string>& /*dxml*/,
                           unsigned /*flags*/, Reply<void> done) {
    done(make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainSave")));
  }
  virtual void domain_restore(const std::string& /*from*/, const std::optional<std::string>& /*dxml*/,
                              unsigned /*flags*/, Reply<void> done) {
    done(make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainRestore")));
  }
  virtual Result<std::string> save_image_get_xml_desc(const std::string& /*file*/, unsigned /*flags*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainSaveImageGetXMLDesc"));
  }
  virtual Status save_image_define_xml(const std::string& /*file*/, const std::string& /*dxml*/, unsigned /*flags*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainSaveImageDefineXML"));
  }
  virtual void domain_managed_save(const DomainRef&, unsigned /*flags*/, Reply<void> done) {
    done(make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainManagedSave")));
  }
  // No image: false (virt-manager hides a domain whose probe fails otherwise).
  virtual Result<bool> domain_has_managed_save_image(const DomainRef&, unsigned /*flags*/) { return false; }
  virtual Status domain_managed_save_remove(const DomainRef&, unsigned /*flags*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainManagedSaveRemove"));
  }
  virtual Result<std::string> domain_managed_save_get_xml_desc(const DomainRef&, unsigned /*flags*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainManagedSaveGetXMLDesc"));
  }
  virtual Status domain_managed_save_define_xml(const DomainRef&, const std::optional<std::string>& /*dxml*/,
                                                unsigned /*flags*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainManagedSaveDefineXML"));
  }

  // Host statistics (virsh nodecpustats, nodememstats, freecell, cpu-models,
  // maxvcpus). CPU: a host CPU, or -1 (VIR_NODE_CPU_STATS_ALL_CPUS); CELL: a
  // NUMA cell, or -1 (VIR_NODE_MEMORY_STATS_ALL_CELLS).
  virtual Result<std::vector<NodeStat>> node_get_cpu_stats(int /*cpu*/, unsigned /*flags*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virNodeGetCPUStats"));
  }
  virtual Result<std::vector<NodeStat>> node_get_memory_stats(int /*cell*/, unsigned /*flags*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virNodeGetMemoryStats"));
  }
  // Free bytes of cells START .. START+MAX-1 that exist.
  virtual Result<std::vector<uint64_t>> node_get_cells_free_memory(int /*start*/, int /*max*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virNodeGetCellsFreeMemory"));
  }
  virtual Result<uint64_t> node_get_free_memory() {  // bytes
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virNodeGetFreeMemory"));
  }
  virtual Result<std::vector<std::string>> connect_get_cpu_model_names(const std::string& /*arch*/,
                                                                       unsigned /*flags*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virConnectGetCPUModelNames"));
  }
  // Free pages of each size in SIZES_KIB (the base page or a huge page size)
  // for cells START .. START+COUNT-1: cell-major, as virNodeGetFreePages.
  virtual Result<std::vector<uint64_t>> node_get_free_pages(const std::vector<unsigned>& /*sizes_kib*/, int /*start*/,
                                                            unsigned /*count*/, unsigned /*flags*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virNodeGetFreePages"));
  }
  virtual Result<int> connect_get_max_vcpus(const std::optional<std::string>& /*type*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virConnectGetMaxVcpus"));
  }

  // Domain monitoring (virsh vcpuinfo, vcpucount, vcpupin, emulatorpin,
  // cpu-stats, domifstat, domifaddr, schedinfo, domblkinfo, domcontrol).
  // FLAGS as libvirt's APIs define them.
  virtual Result<std::vector<VcpuInfo>> domain_get_vcpus(const DomainRef&) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainGetVcpus"));
  }
  virtual Result<int> domain_get_vcpus_flags(const DomainRef&, unsigned /*flags*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainGetVcpusFlags"));
  }
  // Each vCPU's affinity (vCPU i: element i), and the emulator's.
  virtual Result<std::vector<std::vector<bool>>> domain_get_vcpu_pin_info(const DomainRef&, unsigned /*flags*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainGetVcpuPinInfo"));
  }
  virtual Result<std::vector<bool>> domain_get_emulator_pin_info(const DomainRef&, unsigned /*flags*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainGetEmulatorPinInfo"));
  }
  // virDomainGetCPUStats' total (start_cpu -1): cpu_time, user_time,
  // system_time. Per host CPU there is nothing: no per-CPU accounting.
  virtual Result<std::vector<TypedParam>> domain_get_cpu_stats_total(const DomainRef&) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainGetCPUStats"));
  }
  // DEVICE: the interface's target name or MAC address.
  virtual Result<InterfaceStats> domain_interface_stats(const DomainRef&, const std::string& /*device*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainInterfaceStats"));
  }
  // SOURCE: virDomainInterfaceAddressesSource (LEASE, AGENT, ARP).
  virtual Result<std::vector<DomainInterfaceAddrs>> domain_interface_addresses(const DomainRef&, unsigned /*source*/,
                                                                               unsigned /*flags*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainInterfaceAddresses"));
  }
  // The parameters of the scheduler ("posix"): cpu_shares, global_period,
  // global_quota (-1: no limit).
  virtual Result<std::vector<TypedParam>> domain_get_scheduler_parameters(const DomainRef&, unsigned /*flags*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainGetSchedulerParameters"));
  }
  // virDomainGetMemoryParameters: hard_limit, soft_limit, swap_hard_limit
  // in KiB (VIR_DOMAIN_MEMORY_PARAM_UNLIMITED: none).
  virtual Result<std::vector<TypedParam>> domain_get_memory_parameters(const DomainRef&, unsigned /*flags*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainGetMemoryParameters"));
  }
  virtual Result<DomainControlInfo> domain_get_control_info(const DomainRef&, unsigned /*flags*/) {
    return make_error(VIR_ERR_NO_SUPPORT, _("this function is not supported by the connection driver: virDomainGetControlInfo"));
  }

  // Events: the driver calls every subscriber for every event, in order, on
  // the main loop. Each front end subscribes once.
  using EventListener = std::function<void(const ArrowEvent&)>;
  virtual void subscribe(EventListener listener) = 0;
};

}  // namespace arrow
