// Handlers for the domain monitoring procedures: vCPUs (GET_VCPUS,
// GET_VCPUS_FLAGS, GET_MAX_VCPUS, GET_VCPU_PIN_INFO, GET_EMULATOR_PIN_INFO),
// GET_CPU_STATS, INTERFACE_STATS, INTERFACE_ADDRESSES, GET_MEMORY_PARAMETERS, the scheduler
// (GET_SCHEDULER_TYPE, GET_SCHEDULER_PARAMETERS[_FLAGS]), GET_CONTROL_INFO,
// and what an Arrow without disks or I/O threads answers (GET_BLOCK_INFO,
// BLOCK_STATS[_FLAGS], GET_DISK_ERRORS, GET_IOTHREAD_INFO). Layouts: libvirt
// 9.0's remote_protocol.x.
#include <algorithm>

#include "driver/remote/remote_handlers.h"
#include "util/i18n.h"

namespace arrow::remote::procs {

namespace {

inline constexpr int kVcpuInfoMax = 16384;          // REMOTE_VCPUINFO_MAX
inline constexpr int64_t kCpumapsMax = 8388608;     // REMOTE_CPUMAPS_MAX
inline constexpr int kCpuStatsMax = 16;             // REMOTE_NODE_CPU_STATS_MAX
inline constexpr unsigned kCpuStatsNcpusMax = 128;  // REMOTE_DOMAIN_GET_CPU_STATS_NCPUS_MAX
inline constexpr int kSchedulerParamsMax = 16;      // REMOTE_DOMAIN_SCHEDULER_PARAMETERS_MAX
inline constexpr int kMemoryParamsMax = 16;         // REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX
inline constexpr unsigned kVcpuMaximumLive = unsigned(VIR_DOMAIN_AFFECT_LIVE) | unsigned(VIR_DOMAIN_VCPU_MAXIMUM);

Result<DomainRef> existing_dom(Call& call, const DomainRef& dom) { return call.driver.lookup_by_uuid(dom.uuid); }

// MAPLEN bytes: bit i of the map is host CPU i.
std::string cpumap(const std::vector<bool>& affinity, int maplen) {
  std::string map(static_cast<size_t>(maplen), '\0');
  for (size_t i = 0; i < affinity.size() && i / 8 < map.size(); i++) {
    if (affinity[i]) map[i / 8] = static_cast<char>(map[i / 8] | (1 << (i % 8)));
  }
  return map;
}

Status check_maps(int count, int maplen) {
  if (count < 0 || count > kVcpuInfoMax || maplen < 0 || int64_t(count) * maplen > kCpumapsMax)
    return make_error(VIR_ERR_INTERNAL_ERROR, _("internal error: maxinfo * maplen > REMOTE_CPUMAPS_MAX"));
  return {};
}

// Element-of-typed-params replies: at most NPARAMS of PARAMS.
void write_params(XdrWriter& ret, const std::vector<TypedParam>& params, int nparams) {
  size_t n = std::min(params.size(), static_cast<size_t>(std::max(nparams, 0)));
  ret.u32(static_cast<uint32_t>(n));
  for (size_t i = 0; i < n; i++) write_typed_param(ret, params[i]);
}

// An Arrow has no block device: every path names none.
Status no_block_device(Call& call, const DomainRef& dom, const std::string& path) {
  TRY(existing_dom(call, dom));
  return make_error(VIR_ERR_INVALID_ARG,
                    fmt(_("invalid argument: invalid path %1$s not assigned to domain (an Arrow has no disks)"),
                        path.c_str()));
}

}  // namespace

Status domain_get_vcpus(Call& call, XdrWriter& ret) {
  DomainRef dom = read_domain(call.args);
  int maxinfo = call.args.i32();
  int maplen = call.args.i32();
  TRY(decoded(call.args));
  TRY(check_maps(maxinfo, maplen));
  std::vector<VcpuInfo> vcpus = TRY(call.driver.domain_get_vcpus(dom));
  size_t n = std::min(vcpus.size(), static_cast<size_t>(maxinfo));
  ret.u32(static_cast<uint32_t>(n));
  for (size_t i = 0; i < n; i++) {
    ret.u32(vcpus[i].number);
    ret.i32(vcpus[i].state);
    ret.u64(vcpus[i].cpu_time_ns);
    ret.i32(vcpus[i].cpu);
  }
  // The whole buffer the client gave room for, as libvirtd sends it.
  std::string maps;
  for (int i = 0; i < maxinfo; i++) {
    maps += static_cast<size_t>(i) < n ? cpumap(vcpus[i].affinity, maplen) : std::string(static_cast<size_t>(maplen), '\0');
  }
  ret.opaque(maps);
  return {};
}

Status domain_get_vcpus_flags(Call& call, XdrWriter& ret) {
  DomainRef dom = read_domain(call.args);
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  int n = TRY(call.driver.domain_get_vcpus_flags(dom, flags));
  ret.i32(n);
  return {};
}

// virDomainGetMaxVcpus is GetVcpusFlags(LIVE | MAXIMUM): the Arrow must run.
Status domain_get_max_vcpus(Call& call, XdrWriter& ret) {
  DomainRef dom = read_domain(call.args);
  TRY(decoded(call.args));
  int n = TRY(call.driver.domain_get_vcpus_flags(dom, kVcpuMaximumLive));
  ret.i32(n);
  return {};
}

Status domain_get_vcpu_pin_info(Call& call, XdrWriter& ret) {
  DomainRef dom = read_domain(call.args);
  int ncpumaps = call.args.i32();
  int maplen = call.args.i32();
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  TRY(check_maps(ncpumaps, maplen));
  std::vector<std::vector<bool>> maps = TRY(call.driver.domain_get_vcpu_pin_info(dom, flags));
  std::string bytes;
  for (int i = 0; i < ncpumaps; i++) {
    bytes += static_cast<size_t>(i) < maps.size() ? cpumap(maps[i], maplen) : std::string(static_cast<size_t>(maplen), '\0');
  }
  ret.opaque(bytes);
  ret.i32(static_cast<int32_t>(std::min(maps.size(), static_cast<size_t>(ncpumaps))));
  return {};
}

Status domain_get_emulator_pin_info(Call& call, XdrWriter& ret) {
  DomainRef dom = read_domain(call.args);
  int maplen = call.args.i32();
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  TRY(check_maps(1, maplen));
  std::vector<bool> map = TRY(call.driver.domain_get_emulator_pin_info(dom, flags));
  ret.opaque(cpumap(map, maplen));
  ret.i32(1);
  return {};
}

// virDomainGetCPUStats. START_CPU -1: the total (cpu_time, user_time,
// system_time). Per host CPU an Arrow has no accounting: with NCPUS 0 the
// answer is the number of host CPUs, else zero parameters per CPU (virsh
// prints "No per-CPU stats available" and then the total); values per CPU
// asked for anyway are refused.
Status domain_get_cpu_stats(Call& call, XdrWriter& ret) {
  DomainRef dom = read_domain(call.args);
  unsigned nparams = call.args.u32();
  int start_cpu = call.args.i32();
  unsigned ncpus = call.args.u32();
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  if (nparams > kCpuStatsMax) return make_error(VIR_ERR_INTERNAL_ERROR, _("internal error: nparams too large"));
  if (ncpus > kCpuStatsNcpusMax) return make_error(VIR_ERR_INTERNAL_ERROR, _("internal error: ncpus too large"));
  TRY(check_flags(flags & ~unsigned(VIR_TYPED_PARAM_STRING_OKAY), 0, "virDomainGetCPUStats"));
  if (start_cpu == -1) {
    if (ncpus != 1) return make_error(VIR_ERR_INVALID_ARG, _("invalid argument: ncpus in virDomainGetCPUStats must be 1 with start_cpu -1"));
    std::vector<TypedParam> total = TRY(call.driver.domain_get_cpu_stats_total(dom));
    size_t n = nparams == 0 ? 0 : std::min<size_t>(total.size(), nparams);
    write_params(ret, total, static_cast<int>(n));
    ret.i32(static_cast<int32_t>(nparams == 0 ? total.size() : n));
    return {};
  }
  if (start_cpu < 0) return make_error(VIR_ERR_INVALID_ARG, _("invalid argument: start_cpu in virDomainGetCPUStats"));
  TRY(call.driver.domain_get_cpu_stats_total(dom));  // exists and runs
  // Values asked for anyway: an error, since an empty answer with nparams 0
  // would make libvirt's client divide by zero.
  if (nparams > 0 && ncpus > 0) {
    return make_error(VIR_ERR_OPERATION_UNSUPPORTED,
                      _("Operation not supported: an Arrow has no per-CPU statistics (ask for the total, start_cpu -1)"));
  }
  ret.u32(0);
  ret.i32(nparams == 0 && ncpus == 0 ? static_cast<int32_t>(call.driver.node_info().cpus) : 0);
  return {};
}

Status domain_interface_stats(Call& call, XdrWriter& ret) {
  DomainRef dom = read_domain(call.args);
  std::string device = call.args.string(kStringMax);
  TRY(decoded(call.args));
  InterfaceStats s = TRY(call.driver.domain_interface_stats(dom, device));
  for (int64_t v : {s.rx_bytes, s.rx_packets, s.rx_errs, s.rx_drop, s.tx_bytes, s.tx_packets, s.tx_errs, s.tx_drop})
    ret.u64(static_cast<uint64_t>(v));
  return {};
}

Status domain_get_scheduler_type(Call& call, XdrWriter& ret) {
  DomainRef dom = read_domain(call.args);
  TRY(decoded(call.args));
  std::vector<TypedParam> params = TRY(call.driver.domain_get_scheduler_parameters(dom, 0));
  ret.string("posix");
  ret.i32(static_cast<int32_t>(params.size()));
  return {};
}

Status domain_get_scheduler_parameters(Call& call, XdrWriter& ret) {
  DomainRef dom = read_domain(call.args);
  int nparams = call.args.i32();
  TRY(decoded(call.args));
  if (nparams > kSchedulerParamsMax) return make_error(VIR_ERR_INTERNAL_ERROR, _("internal error: nparams too large"));
  std::vector<TypedParam> params = TRY(call.driver.domain_get_scheduler_parameters(dom, 0));
  write_params(ret, params, nparams);
  return {};
}

Status domain_get_scheduler_parameters_flags(Call& call, XdrWriter& ret) {
  DomainRef dom = read_domain(call.args);
  int nparams = call.args.i32();
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  if (nparams > kSchedulerParamsMax) return make_error(VIR_ERR_INTERNAL_ERROR, _("internal error: nparams too large"));
  std::vector<TypedParam> params =
      TRY(call.driver.domain_get_scheduler_parameters(dom, flags & ~unsigned(VIR_TYPED_PARAM_STRING_OKAY)));
  write_params(ret, params, nparams);
  return {};
}

// memtune: NPARAMS 0 asks how many there are.
Status domain_get_memory_parameters(Call& call, XdrWriter& ret) {
  DomainRef dom = read_domain(call.args);
  int nparams = call.args.i32();
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  if (nparams < 0 || nparams > kMemoryParamsMax) return make_error(VIR_ERR_INTERNAL_ERROR, _("internal error: nparams too large"));
  std::vector<TypedParam> params =
      TRY(call.driver.domain_get_memory_parameters(dom, flags & ~unsigned(VIR_TYPED_PARAM_STRING_OKAY)));
  write_params(ret, params, nparams);
  ret.i32(static_cast<int32_t>(nparams == 0 ? params.size() : std::min(params.size(), static_cast<size_t>(nparams))));
  return {};
}

Status domain_get_control_info(Call& call, XdrWriter& ret) {
  DomainRef dom = read_domain(call.args);
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  DomainControlInfo info = TRY(call.driver.domain_get_control_info(dom, flags));
  ret.u32(info.state);
  ret.u32(info.details);
  ret.u64(info.state_time_ms);
  return {};
}

Status domain_get_block_info(Call& call, XdrWriter&) {
  DomainRef dom = read_domain(call.args);
  std::string path = call.args.string(kStringMax);
  call.args.u32();  // flags
  TRY(decoded(call.args));
  return no_block_device(call, dom, path);
}

Status domain_block_stats(Call& call, XdrWriter&) {
  DomainRef dom = read_domain(call.args);
  std::string path = call.args.string(kStringMax);
  TRY(decoded(call.args));
  return no_block_device(call, dom, path);
}

Status domain_block_stats_flags(Call& call, XdrWriter&) {
  DomainRef dom = read_domain(call.args);
  std::string path = call.args.string(kStringMax);
  call.args.i32();  // nparams
  call.args.u32();  // flags
  TRY(decoded(call.args));
  return no_block_device(call, dom, path);
}

Status domain_get_disk_errors(Call& call, XdrWriter& ret) {
  DomainRef dom = read_domain(call.args);
  call.args.u32();  // maxerrors
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  TRY(check_flags(flags, 0, "virDomainGetDiskErrors"));
  TRY(existing_dom(call, dom));
  ret.u32(0);  // no disk, no error
  ret.i32(0);
  return {};
}

Status domain_get_iothread_info(Call& call, XdrWriter& ret) {
  DomainRef dom = read_domain(call.args);
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  TRY(check_flags(flags, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG, "virDomainGetIOThreadInfo"));
  TRY(existing_dom(call, dom));
  ret.u32(0);  // an Arrow has no I/O threads (domain capabilities: iothreads unsupported)
  ret.u32(0);
  return {};
}

}  // namespace arrow::remote::procs
