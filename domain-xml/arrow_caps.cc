// Host and domain capabilities XML (see arrow_caps.h).
#include "domain-xml/arrow_caps.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>

#include "domain-xml/uuid.h"
#include "domain-xml/xml_util.h"
#include "util/i18n.h"

namespace arrow {

namespace {

bool is_zero(const Uuid& u) {
  for (uint8_t b : u)
    if (b) return false;
  return true;
}

void format_host_cpu(XmlWriter& w, const HostInfo& host) {
  w.open("cpu").children();
  w.element("arch", host.arch);
  if (!host.cpu_model.empty()) w.element("model", host.cpu_model);
  if (!host.cpu_vendor.empty()) w.element("vendor", host.cpu_vendor);
  w.open("topology")
      .attr("sockets", std::to_string(host.sockets))
      .attr("dies", std::to_string(host.dies))
      .attr("cores", std::to_string(host.cores))
      .attr("threads", std::to_string(host.threads))
      .end_empty();
  w.close("cpu");
}

// One NUMA cell holding every CPU, each placed by the host topology.
void format_host_topology(XmlWriter& w, const HostInfo& host) {
  bool consistent = host.sockets * host.dies * host.cores * host.threads == host.cpus && host.threads > 0;
  unsigned threads = consistent ? host.threads : 1;
  unsigned cores = consistent ? host.cores : host.cpus;
  unsigned dies = consistent ? host.dies : 1;
  w.open("topology").children();
  w.open("cells").attr("num", "1").children();
  w.open("cell").attr("id", "0").children();
  w.open("memory").attr("unit", "KiB").text_and_close("memory", std::to_string(host.memory_kib));
  w.open("cpus").attr("num", std::to_string(host.cpus)).children();
  for (unsigned i = 0; i < host.cpus; i++) {
    unsigned first = i / threads * threads;
    std::string siblings = std::to_string(first);
    if (threads > 1) siblings += "-" + std::to_string(first + threads - 1);
    w.open("cpu")
        .attr("id", std::to_string(i))
        .attr("socket_id", std::to_string(i / (dies * cores * threads)))
        .attr("die_id", std::to_string(i / (cores * threads) % dies))
        .attr("core_id", std::to_string(i / threads % cores))
        .attr("siblings", siblings)
        .end_empty();
  }
  w.close("cpus");
  w.close("cell");
  w.close("cells");
  w.close("topology");
}

void format_guest(XmlWriter& w, const HostInfo& host) {
  w.open("guest").children();
  w.element("os_type", "exe");
  w.open("arch").attr("name", host.arch).children();
  w.element("wordsize", "64");
  if (!host.emulator.empty()) w.element("emulator", host.emulator);
  w.open("machine").attr("maxCpus", std::to_string(host.max_vcpus)).text_and_close("machine", "microvm");
  w.open("domain").attr("type", "arrow").end_empty();
  w.close("arch");
  w.close("guest");
}

Error invalid_arg(std::string message) { return make_error(VIR_ERR_INVALID_ARG, std::move(message)); }

Status check_query(const HostInfo& host, const DomainCapsQuery& q) {
  if (!q.virttype.empty() && q.virttype != "arrow")
    return invalid_arg(fmt(_("unknown virttype '%1$s': this driver serves 'arrow'"), q.virttype.c_str()));
  if (!q.arch.empty() && q.arch != host.arch)
    return invalid_arg(fmt(_("unsupported architecture '%1$s': Arrows run on '%2$s'"), q.arch.c_str(),
                           host.arch.c_str()));
  if (!q.machine.empty() && q.machine != "microvm")
    return invalid_arg(fmt(_("unsupported machine type '%1$s': Arrows run on 'microvm'"), q.machine.c_str()));
  if (!q.emulator.empty() && q.emulator[0] != '/')
    return invalid_arg(fmt(_("invalid emulator '%1$s': expected an absolute path"), q.emulator.c_str()));
  return {};
}

void format_domcaps_devices(XmlWriter& w) {
  w.open("devices").children();
  for (const char* dev : {"disk", "graphics", "video", "hostdev", "rng"})
    w.open(dev).attr("supported", "no").end_empty();
  // Shares are 9p passthrough, libvirt's driver type 'path'.
  w.open("filesystem").attr("supported", "yes").children();
  w.open("enum").attr("name", "driverType").children();
  w.element("value", "path");
  w.close("enum");
  w.close("filesystem");
  for (const char* dev : {"tpm", "redirdev", "channel"}) w.open(dev).attr("supported", "no").end_empty();
  w.close("devices");
}

}  // namespace

std::string host_capabilities_xml(const HostInfo& host) {
  XmlWriter w;
  w.open("capabilities").children();
  w.blank_line();
  w.open("host").children();
  if (!is_zero(host.uuid)) w.element("uuid", uuid_format(host.uuid));
  format_host_cpu(w, host);
  w.open("power_management").end_empty();
  w.open("iommu").attr("support", "no").end_empty();
  format_host_topology(w, host);
  w.open("secmodel").children();
  w.element("model", "none");
  w.element("doi", "0");
  w.close("secmodel");
  w.close("host");
  w.blank_line();
  format_guest(w, host);
  w.blank_line();
  w.close("capabilities");
  return w.str();
}

Result<std::string> domain_capabilities_xml(const HostInfo& host, const DomainCapsQuery& query) {
  TRY(check_query(host, query));
  XmlWriter w;
  w.open("domainCapabilities").children();
  std::string path = query.emulator.empty() ? host.emulator : query.emulator;
  if (!path.empty()) w.element("path", path);
  w.element("domain", "arrow");
  w.element("machine", "microvm");
  w.element("arch", host.arch);
  w.open("vcpu").attr("max", std::to_string(host.max_vcpus)).end_empty();
  w.open("iothreads").attr("supported", "no").end_empty();
  w.open("os").attr("supported", "yes").end_empty();
  w.open("cpu").children();
  for (const char* mode : {"host-passthrough", "maximum", "host-model", "custom"})
    w.open("mode").attr("name", mode).attr("supported", "no").end_empty();
  w.close("cpu");
  w.open("memoryBacking").attr("supported", "no").end_empty();
  format_domcaps_devices(w);
  w.open("features").children();
  for (const char* f : {"gic", "vmcoreinfo", "genid", "sev"}) w.open(f).attr("supported", "no").end_empty();
  w.close("features");
  w.close("domainCapabilities");
  return w.str();
}

HostInfo probe_host_info(const std::string& emulator) {
  HostInfo host;
  host.emulator = emulator;
  struct utsname u {};
  if (uname(&u) == 0) host.arch = u.machine;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  host.cpus = cpus > 0 ? static_cast<unsigned>(cpus) : 1;
  host.cores = host.cpus;
  long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0)
    host.memory_kib = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size) / 1024;
  for (const char* path : {"/etc/machine-id", "/sys/class/dmi/id/product_uuid"}) {
    std::string line;
    std::ifstream in(path);
    if (in && std::getline(in, line)) {
      if (auto uuid = uuid_parse(line); uuid.ok()) {
        host.uuid = uuid.value();
        break;
      }
    }
  }
  return host;
}

}  // namespace arrow
