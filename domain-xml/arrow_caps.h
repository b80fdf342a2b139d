// Host capabilities (virConnectGetCapabilities) and domain capabilities
// (virConnectGetDomainCapabilities) XML, shaped as libvirt shapes them and
// as virt-manager, virt-install and Nova read them (the elements each of
// them reads are checked by tests/unit/capabilitiestest.cc and the client
// tests). The formatters are pure: the host's
// facts come in a HostInfo, so the output is golden-testable.
#pragma once

#include <cstdint>
#include <string>

#include "domain-xml/arrow_def.h"
#include "util/result.h"

namespace arrow {

struct HostInfo {
  Uuid uuid{};                  // <host><uuid>; all zero: omitted
  std::string arch = "x86_64";  // host and guest arch
  // <host><cpu><model>/<vendor>: leave empty unless the daemon answers
  // CONNECT_BASELINE_CPU (Nova calls it when a model is present).
  std::string cpu_model;
  std::string cpu_vendor;
  // Topology of the host: cpus should equal sockets*dies*cores*threads;
  // when it does not, the NUMA cell lists cpus as one core each.
  unsigned sockets = 1;
  unsigned dies = 1;
  unsigned cores = 1;
  unsigned threads = 1;
  unsigned cpus = 1;        // online logical CPUs
  uint64_t memory_kib = 0;  // host RAM
  std::string emulator;     // the QEMU binary Arrows run on; empty: omitted
  unsigned max_vcpus = 8;   // the single-task kernel's NR_CPUS
};

// The running host's facts: arch from uname, CPU count and memory from
// sysconf, the uuid from /etc/machine-id (stable across restarts) when it
// holds 32 hex digits, else from the SMBIOS product uuid, else zero.
HostInfo probe_host_info(const std::string& emulator);

std::string host_capabilities_xml(const HostInfo& host);

// The arguments of virConnectGetDomainCapabilities; empty means "default".
struct DomainCapsQuery {
  std::string emulator;  // must be absolute when given
  std::string arch;      // must be the host's arch
  std::string machine;   // must be 'microvm'
  std::string virttype;  // must be 'arrow'
};

// VIR_ERR_INVALID_ARG when the query names something Arrow does not serve,
// as libvirt's drivers answer.
Result<std::string> domain_capabilities_xml(const HostInfo& host, const DomainCapsQuery& query);

}  // namespace arrow
