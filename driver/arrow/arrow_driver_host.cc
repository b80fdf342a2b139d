// The driver's host statistics and domain monitoring entry points: node CPU
// and memory statistics, free memory, CPU models, vCPU counts, threads and
// affinity, CPU time, interface counters and addresses, scheduler
// parameters, control info. Each answers at once from /proc, /sys, the
// Arrow's cgroup and its definition; none takes a job (they change nothing).
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "domain-xml/arrow_caps.h"
#include "driver/arrow/arrow_driver.h"
#include "driver/arrow/arrow_host_stats.h"
#include "driver/engine/cgroup.h"
#include "driver/engine/qemu_command.h"
#include "driver/engine/qemu_proc.h"
#include "util/fs.h"
#include "util/i18n.h"

namespace arrow {

namespace {

// virDomainModificationImpact and virDomainVcpuFlags.
constexpr unsigned kAffectLive = VIR_DOMAIN_AFFECT_LIVE, kAffectConfig = VIR_DOMAIN_AFFECT_CONFIG;
constexpr unsigned kVcpuMaximum = VIR_DOMAIN_VCPU_MAXIMUM, kVcpuGuest = VIR_DOMAIN_VCPU_GUEST;
// QEMU gives the first NIC this MAC when the XML names none.
constexpr const char* kQemuDefaultMac = "52:54:00:12:34:56";
// The user-mode network's fixed guest address (kGuestNet: 10.0.2.15/24).
constexpr const char* kUserNetAddress = "10.0.2.15";
constexpr unsigned kUserNetPrefix = 24;

Error not_running() { return make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running")); }

// LIVE or CONFIG from FLAGS and the domain's state, libvirt's rule
// (virDomainObjGetDefs): CURRENT means LIVE when running; LIVE on a stopped
// domain and both at once are errors.
Result<bool> wants_live(unsigned flags, bool active) {
  if ((flags & kAffectLive) && (flags & kAffectConfig))
    return make_error(VIR_ERR_INVALID_ARG, _("invalid argument: flags 'affect live' and 'affect config' are mutually exclusive"));
  if (flags & kAffectLive) {
    if (!active) return not_running();
    return true;
  }
  if (flags & kAffectConfig) return false;
  return active;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

std::string interface_mac(const Interface& iface) { return iface.mac.empty() ? kQemuDefaultMac : iface.mac; }

// The first line of FILE trimmed, or nothing.
std::optional<std::string> first_line(const std::string& file) {
  Result<std::string> text = read_whole_file(file);
  if (!text.ok()) return std::nullopt;
  std::string s = text.value().substr(0, text.value().find('\n'));
  return s;
}

}  // namespace

// --- Host -------------------------------------------------------------------

Result<std::vector<NodeStat>> ArrowDriver::node_get_cpu_stats(int cpu, unsigned flags) {
  TRY(check_flags(flags, 0, "virNodeGetCPUStats"));
  return read_node_cpu_stats(HostMemory{}, cpu);
}

Result<std::vector<NodeStat>> ArrowDriver::node_get_memory_stats(int cell, unsigned flags) {
  TRY(check_flags(flags, 0, "virNodeGetMemoryStats"));
  return read_node_memory_stats(HostMemory{}, cell);
}

Result<std::vector<uint64_t>> ArrowDriver::node_get_cells_free_memory(int start, int max) {
  return read_cells_free_memory(HostMemory{}, start, max);
}

// The host's MemFree (/proc/meminfo), which nodememstats shows too: memory
// outside every NUMA node's accounting (some virtual machines have it) counts.
Result<uint64_t> ArrowDriver::node_get_free_memory() {
  std::vector<NodeStat> stats = TRY(read_node_memory_stats(HostMemory{}, -1));
  for (const NodeStat& s : stats)
    if (s.field == "free") return s.value * 1024;
  return make_error(VIR_ERR_INTERNAL_ERROR, _("internal error: no MemFree in /proc/meminfo"));
}

Result<std::vector<uint64_t>> ArrowDriver::node_get_free_pages(const std::vector<unsigned>& sizes_kib, int start,
                                                               unsigned count, unsigned flags) {
  TRY(check_flags(flags, 0, "virNodeGetFreePages"));
  HostMemory where;
  const long page = sysconf(_SC_PAGESIZE);
  const unsigned base_kib = page > 0 ? unsigned(page / 1024) : 4;
  std::vector<uint64_t> out;
  for (unsigned i = 0; i < count; i++) {
    for (unsigned size : sizes_kib) {
      uint64_t n = TRY(read_free_pages(where, start + int(i), size, base_kib));
      out.push_back(n);
    }
  }
  return out;
}

// An Arrow's guest CPU is QEMU's default model (TCG) or the host's (KVM):
// no named model can be chosen (domain capabilities: custom mode
// unsupported), so the list for the host's architecture is empty.
Result<std::vector<std::string>> ArrowDriver::connect_get_cpu_model_names(const std::string& arch, unsigned flags) {
  TRY(check_flags(flags, 0, "virConnectGetCPUModelNames"));
  const std::string host_arch = probe_host_info(conf_.emulator).arch;
  if (arch != host_arch)
    return make_error(VIR_ERR_INVALID_ARG, fmt(_("invalid argument: cannot find architecture %1$s (Arrows run on %2$s)"),
                                               arch.c_str(), host_arch.c_str()));
  return std::vector<std::string>{};
}

Result<int> ArrowDriver::connect_get_max_vcpus(const std::optional<std::string>& type) {
  if (type && !type->empty() && lower(*type) != "arrow")
    return make_error(VIR_ERR_INVALID_ARG, fmt(_("invalid argument: unknown type '%1$s'"), type->c_str()));
  return int(probe_host_info(conf_.emulator).max_vcpus);
}

// --- vCPUs ------------------------------------------------------------------

Result<std::vector<VcpuInfo>> ArrowDriver::domain_get_vcpus(const DomainRef& ref) {
  DomainPtr dom = TRY(find(ref));
  if (!dom->active() || dom->qemu_pid <= 0) return not_running();
  const unsigned ncpus = node_info().cpus;
  std::vector<QemuThread> threads = TRY(read_qemu_threads(dom->qemu_pid, ncpus));
  std::vector<VcpuInfo> out;
  for (unsigned i = 0; i < dom->def.vcpus; i++) {
    auto it = std::find_if(threads.begin(), threads.end(),
                           [i](const QemuThread& t) { return t.vcpu == int(i) || t.vcpu == -2; });
    if (it == threads.end())
      return make_error(VIR_ERR_OPERATION_FAILED,
                        fmt(_("operation failed: cannot find the thread of vCPU %1$u in QEMU (pid %2$d); a QEMU "
                              "started before debug-threads=on names none (restart the Arrow)"),
                            i, dom->qemu_pid));
    VcpuInfo info;
    info.number = i;
    info.state = VIR_VCPU_RUNNING;
    info.cpu_time_ns = it->stat.user_ns + it->stat.system_ns;
    info.cpu = it->stat.processor;
    info.affinity = it->affinity;
    out.push_back(std::move(info));
  }
  return out;
}

Result<int> ArrowDriver::domain_get_vcpus_flags(const DomainRef& ref, unsigned flags) {
  TRY(check_flags(flags, kAffectLive | kAffectConfig | kVcpuMaximum | kVcpuGuest, "virDomainGetVcpusFlags"));
  DomainPtr dom = TRY(find(ref));
  if (flags & kVcpuGuest) {
    return make_error(VIR_ERR_OPERATION_UNSUPPORTED,
                      _("Operation not supported: the guest's own vCPU count needs a guest agent, which an Arrow "
                        "does not run; an Arrow's vCPUs are all online"));
  }
  bool live = TRY(wants_live(flags, dom->active()));
  // No vCPU hotplug: the maximum is the count.
  return int(live ? dom->def.vcpus : dom->persistent_def().vcpus);
}

Result<std::vector<std::vector<bool>>> ArrowDriver::domain_get_vcpu_pin_info(const DomainRef& ref, unsigned flags) {
  TRY(check_flags(flags, kAffectLive | kAffectConfig, "virDomainGetVcpuPinInfo"));
  DomainPtr dom = TRY(find(ref));
  bool live = TRY(wants_live(flags, dom->active()));
  const unsigned ncpus = node_info().cpus;
  if (!live)  // no <cputune>: every vCPU may run on every host CPU
    return std::vector<std::vector<bool>>(dom->persistent_def().vcpus, std::vector<bool>(ncpus, true));
  std::vector<std::vector<bool>> out;
  std::vector<VcpuInfo> vcpus = TRY(domain_get_vcpus(ref));
  for (const VcpuInfo& v : vcpus) out.push_back(v.affinity);
  return out;
}

Result<std::vector<bool>> ArrowDriver::domain_get_emulator_pin_info(const DomainRef& ref, unsigned flags) {
  TRY(check_flags(flags, kAffectLive | kAffectConfig, "virDomainGetEmulatorPinInfo"));
  DomainPtr dom = TRY(find(ref));
  bool live = TRY(wants_live(flags, dom->active()));
  const unsigned ncpus = node_info().cpus;
  if (!live || dom->qemu_pid <= 0) return std::vector<bool>(ncpus, true);
  return read_affinity(dom->qemu_pid, ncpus);
}

Result<std::vector<TypedParam>> ArrowDriver::domain_get_cpu_stats_total(const DomainRef& ref) {
  DomainPtr dom = TRY(find(ref));
  if (!dom->active() || dom->qemu_pid <= 0) return not_running();
  std::string text = TRY(read_whole_file(fmt("/proc/%d/stat", dom->qemu_pid)));
  ThreadStat st = TRY(parse_thread_stat(text, sysconf(_SC_CLK_TCK)));
  return std::vector<TypedParam>{
      typed_param("cpu_time", TypedParam::Type::ULLong, int64_t(st.user_ns + st.system_ns)),
      typed_param("user_time", TypedParam::Type::ULLong, int64_t(st.user_ns)),
      typed_param("system_time", TypedParam::Type::ULLong, int64_t(st.system_ns)),
  };
}

// --- Bulk statistics ----------------------------------------------------------

void ArrowDriver::add_monitor_stats(const ArrowDomain& dom, unsigned stats, std::vector<TypedParam>& params) {
  if (!dom.active() || dom.qemu_pid <= 0) return;
  if (stats & VIR_DOMAIN_STATS_VCPU) {
    Result<std::vector<QemuThread>> threads = read_qemu_threads(dom.qemu_pid, node_info().cpus);
    for (unsigned i = 0; threads.ok() && i < dom.def.vcpus; i++) {
      for (const QemuThread& t : threads.value()) {
        if (t.vcpu != int(i) && t.vcpu != -2) continue;
        params.push_back(typed_param(fmt("vcpu.%u.state", i), TypedParam::Type::Int, VIR_VCPU_RUNNING));
        params.push_back(typed_param(fmt("vcpu.%u.time", i), TypedParam::Type::ULLong,
                                     int64_t(t.stat.user_ns + t.stat.system_ns)));
        break;
      }
    }
  }
  if (stats & VIR_DOMAIN_STATS_INTERFACE) {
    // A bridge interface's TAP has counters (the guest's view: swapped);
    // user networking has neither a host name nor counters.
    std::vector<std::string> taps = read_tap_names(dom.qemu_pid);
    std::vector<std::pair<std::string, NetDevCounters>> found;
    for (const std::string& tap : taps) {
      if (Result<NetDevCounters> c = read_net_dev(tap); c.ok()) found.emplace_back(tap, c.value());
    }
    params.push_back(typed_param("net.count", TypedParam::Type::UInt, int64_t(found.size())));
    for (size_t i = 0; i < found.size(); i++) {
      const auto& [tap, c] = found[i];
      TypedParam name;
      name.field = fmt("net.%zu.name", i);
      name.type = TypedParam::Type::String;
      name.s = tap;
      params.push_back(std::move(name));
      const std::pair<const char*, uint64_t> values[] = {
          {"rx.bytes", c.tx_bytes}, {"rx.pkts", c.tx_packets}, {"rx.errs", c.tx_errs}, {"rx.drop", c.tx_drop},
          {"tx.bytes", c.rx_bytes}, {"tx.pkts", c.rx_packets}, {"tx.errs", c.rx_errs}, {"tx.drop", c.rx_drop}};
      for (const auto& [field, v] : values)
        params.push_back(typed_param(fmt("net.%zu.%s", i, field), TypedParam::Type::ULLong, int64_t(v)));
    }
  }
}

// --- Interfaces -------------------------------------------------------------

// DEVICE is the interface's MAC address or, for a bridge, its TAP's name.
Result<InterfaceStats> ArrowDriver::domain_interface_stats(const DomainRef& ref, const std::string& device) {
  DomainPtr dom = TRY(find(ref));
  if (!dom->active() || dom->qemu_pid <= 0) return not_running();
  std::vector<std::string> taps = read_tap_names(dom->qemu_pid);
  for (const Interface& iface : dom->def.interfaces) {
    const bool bridge = iface.type == InterfaceType::Bridge;
    const bool by_tap = bridge && !taps.empty() && device == taps.front();
    if (!by_tap && lower(device) != interface_mac(iface)) continue;
    if (!bridge) {
      return make_error(VIR_ERR_OPERATION_UNSUPPORTED,
                        fmt(_("Operation not supported: interface '%1$s' is <interface type='user'>: QEMU's user "
                              "networking keeps no counters the host can read (a bridge interface has them)"),
                            device.c_str()));
    }
    if (taps.empty())
      return make_error(VIR_ERR_OPERATION_FAILED,
                        fmt(_("operation failed: QEMU (pid %1$d) holds no TAP device"), dom->qemu_pid));
    NetDevCounters c = TRY(read_net_dev(taps.front()));
    // The host's TAP sends what the guest receives: swap, as libvirt does.
    InterfaceStats s;
    s.rx_bytes = int64_t(c.tx_bytes), s.rx_packets = int64_t(c.tx_packets);
    s.rx_errs = int64_t(c.tx_errs), s.rx_drop = int64_t(c.tx_drop);
    s.tx_bytes = int64_t(c.rx_bytes), s.tx_packets = int64_t(c.rx_packets);
    s.tx_errs = int64_t(c.rx_errs), s.tx_drop = int64_t(c.rx_drop);
    return s;
  }
  return make_error(VIR_ERR_INVALID_ARG,
                    fmt(_("invalid argument: invalid path, '%1$s' is not a known interface (give its MAC address)"),
                        device.c_str()));
}

namespace {

// The IPv4 addresses the host's neighbour table (/proc/net/arp) has for MAC.
std::vector<std::string> arp_addresses(const std::string& mac) {
  std::vector<std::string> out;
  Result<std::string> text = read_whole_file("/proc/net/arp");
  if (!text.ok()) return out;
  std::istringstream in(text.value());
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string ip, hwtype, flags, hw;
    if (f >> ip >> hwtype >> flags >> hw && hw == mac && flags != "0x0") out.push_back(ip);
  }
  return out;
}

}  // namespace

// LEASE: the address the Arrow is configured with (a bridge's <ip>, user
// networking's fixed 10.0.2.15/24), which ainit sets statically: there is no
// DHCP lease. ARP: what the host's neighbour table learnt. AGENT: no agent.
Result<std::vector<DomainInterfaceAddrs>> ArrowDriver::domain_interface_addresses(const DomainRef& ref,
                                                                                  unsigned source, unsigned flags) {
  TRY(check_flags(flags, 0, "virDomainInterfaceAddresses"));
  DomainPtr dom = TRY(find(ref));
  if (!dom->active() || dom->qemu_pid <= 0) return not_running();
  if (source == VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT) {  // answered by the guest agent (arrow_driver_agent.cc)
    return make_error(VIR_ERR_INVALID_ARG, _("invalid argument: the guest agent's addresses come asynchronously"));
  }
  if (source != VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE && source != VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP)
    return make_error(VIR_ERR_INVALID_ARG, fmt(_("invalid argument: Unknown IP address data source %1$u"), source));
  std::vector<std::string> taps = read_tap_names(dom->qemu_pid);
  std::vector<DomainInterfaceAddrs> out;
  for (const Interface& iface : dom->def.interfaces) {
    const bool bridge = iface.type == InterfaceType::Bridge;
    DomainInterfaceAddrs entry;
    entry.name = bridge ? (taps.empty() ? std::string("-") : taps.front()) : std::string("eth0");
    entry.hwaddr = interface_mac(iface);
    if (source == VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE) {
      entry.addrs.push_back({VIR_IP_ADDR_TYPE_IPV4, bridge ? iface.ip_address : kUserNetAddress,
                             bridge ? iface.ip_prefix : kUserNetPrefix});
    } else if (bridge) {  // user networking's guest is behind QEMU: no neighbour entry
      for (const std::string& ip : arp_addresses(*entry.hwaddr)) entry.addrs.push_back({VIR_IP_ADDR_TYPE_IPV4, ip, 0});
    }
    if (!entry.addrs.empty()) out.push_back(std::move(entry));
  }
  return out;
}

// --- Scheduler and control ----------------------------------------------------

// libvirt's "posix" parameters: cpu_shares (cpu.weight), global_period and
// global_quota (cpu.max; -1 for "max", no limit). A running Arrow's are read
// from the cgroup its QEMU is in (its own leaf under a system daemon, the
// daemon's otherwise); a stopped one's are those its next start gets: the
// leaf's limits from the definition, or none where the daemon has no cgroups.
Result<std::vector<TypedParam>> ArrowDriver::domain_get_scheduler_parameters(const DomainRef& ref, unsigned flags) {
  TRY(check_flags(flags, kAffectLive | kAffectConfig, "virDomainGetSchedulerParametersFlags"));
  DomainPtr dom = TRY(find(ref));
  bool live = TRY(wants_live(flags, dom->active()));
  uint64_t shares = 100;  // cpu.weight's default: the daemon sets none
  int64_t quota = -1;
  uint64_t period = kCpuPeriodUs;
  if (!conf_.cgroup_parent.empty()) {
    CgroupLimits limits = cgroup_limits(live ? dom->def : dom->persistent_def());
    quota = int64_t(limits.cpu_quota_us);
    period = limits.cpu_period_us;
  }
  if (live && dom->qemu_pid > 0) {
    Result<std::string> mount = find_cgroup2_mount();
    Result<std::string> path = read_cgroup_path(dom->qemu_pid);
    if (mount.ok() && path.ok()) {
      const std::string dir = mount.value() + path.value();
      quota = -1;
      period = kCpuPeriodUs;
      if (std::optional<std::string> w = first_line(dir + "/cpu.weight")) shares = strtoull(w->c_str(), nullptr, 10);
      if (std::optional<std::string> max = first_line(dir + "/cpu.max")) {
        std::istringstream in(*max);
        std::string q;
        in >> q >> period;
        quota = q == "max" ? -1 : strtoll(q.c_str(), nullptr, 10);
      }
    }
  }
  return std::vector<TypedParam>{
      typed_param("cpu_shares", TypedParam::Type::ULLong, int64_t(shares)),
      typed_param("global_period", TypedParam::Type::ULLong, int64_t(period)),
      typed_param("global_quota", TypedParam::Type::LLong, quota),
  };
}

// memtune: the cgroup's memory.max (hard_limit), memory.high (soft_limit)
// and memory.swap.max (swap_hard_limit), in KiB, read from the running
// Arrow's cgroup, or those the next start writes (memory.max from <memory>
// and QEMU's overhead) where the daemon has cgroups; "max" or no cgroup:
// unlimited. Setting them is refused: memory.max follows <memory>.
Result<std::vector<TypedParam>> ArrowDriver::domain_get_memory_parameters(const DomainRef& ref, unsigned flags) {
  TRY(check_flags(flags, kAffectLive | kAffectConfig, "virDomainGetMemoryParameters"));
  DomainPtr dom = TRY(find(ref));
  bool live = TRY(wants_live(flags, dom->active()));
  constexpr int64_t kUnlimited = VIR_DOMAIN_MEMORY_PARAM_UNLIMITED;
  int64_t hard = kUnlimited, soft = kUnlimited, swap = kUnlimited;
  if (!conf_.cgroup_parent.empty()) hard = int64_t(cgroup_limits(live ? dom->def : dom->persistent_def()).memory_max_bytes / 1024);
  if (live && dom->qemu_pid > 0) {
    Result<std::string> mount = find_cgroup2_mount();
    Result<std::string> path = read_cgroup_path(dom->qemu_pid);
    if (mount.ok() && path.ok()) {
      const std::string dir = mount.value() + path.value();
      auto limit = [&](const char* file) {
        std::optional<std::string> v = first_line(dir + "/" + file);
        return !v || *v == "max" || v->empty() ? kUnlimited : int64_t(strtoull(v->c_str(), nullptr, 10) / 1024);
      };
      hard = limit("memory.max");
      soft = limit("memory.high");
      swap = limit("memory.swap.max");
    }
  }
  return std::vector<TypedParam>{
      typed_param(VIR_DOMAIN_MEMORY_HARD_LIMIT, TypedParam::Type::ULLong, hard),
      typed_param(VIR_DOMAIN_MEMORY_SOFT_LIMIT, TypedParam::Type::ULLong, soft),
      typed_param(VIR_DOMAIN_MEMORY_SWAP_HARD_LIMIT, TypedParam::Type::ULLong, swap),
  };
}

Result<DomainControlInfo> ArrowDriver::domain_get_control_info(const DomainRef& ref, unsigned flags) {
  TRY(check_flags(flags, 0, "virDomainGetControlInfo"));
  DomainPtr dom = TRY(find(ref));
  if (!dom->active()) return not_running();
  DomainControlInfo info;
  // A lifecycle job in progress (start, stop, suspend...) occupies the
  // Arrow's monitor as a libvirt job does.
  info.state = dom->job() ? VIR_DOMAIN_CONTROL_JOB : VIR_DOMAIN_CONTROL_OK;
  return info;
}

}  // namespace arrow
