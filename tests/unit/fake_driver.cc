// The in-memory DriverApi of the RPC tests (see fake_driver.h).
#include "tests/unit/fake_driver.h"

#include <glib.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace arrow::test {

namespace {

// virDomainState / virDomainEventType values used here.
enum { kRunning = 1, kPaused = 3, kShutoff = 5 };
enum { kEvDefined = 0, kEvUndefined = 1, kEvStarted = 2, kEvSuspended = 3, kEvResumed = 4, kEvStopped = 5 };

std::string element_text(const std::string& xml, const std::string& tag) {
  size_t open = xml.find("<" + tag);
  if (open == std::string::npos) return {};
  size_t start = xml.find('>', open);
  size_t end = xml.find("</" + tag + ">", start);
  if (start == std::string::npos || end == std::string::npos) return {};
  return xml.substr(start + 1, end - start - 1);
}

bool parse_uuid(const std::string& text, Uuid& out) {
  std::string hex;
  for (char c : text) {
    if (c != '-') hex += c;
  }
  if (hex.size() != 32) return false;
  for (size_t i = 0; i < 16; i++) {
    unsigned v;
    if (std::sscanf(hex.c_str() + 2 * i, "%2x", &v) != 1) return false;
    out[i] = static_cast<uint8_t>(v);
  }
  return true;
}

Error no_domain(const char* how) {
  return make_error(VIR_ERR_NO_DOMAIN, std::string("Domain not found: no domain with matching ") + how);
}

}  // namespace

std::string FakeDriver::hostname() { return g_get_host_name(); }

std::string FakeDriver::capabilities_xml() {
  return "<capabilities>\n  <host>\n    <cpu>\n      <arch>x86_64</arch>\n    </cpu>\n  </host>\n"
         "  <guest>\n    <os_type>exe</os_type>\n    <arch name='x86_64'>\n      <wordsize>64</wordsize>\n"
         "      <domain type='arrow'/>\n    </arch>\n  </guest>\n</capabilities>\n";
}

Result<std::string> FakeDriver::domain_capabilities_xml(const std::string&, const std::string& arch,
                                                        const std::string&, const std::string& virttype) {
  if (!virttype.empty() && virttype != "arrow") {
    return make_error(VIR_ERR_INVALID_ARG, "invalid argument: unknown virttype: " + virttype);
  }
  return "<domainCapabilities>\n  <domain>arrow</domain>\n  <arch>" + (arch.empty() ? "x86_64" : arch) +
         "</arch>\n</domainCapabilities>\n";
}

NodeInfo FakeDriver::node_info() {
  NodeInfo n;
  n.model = "x86_64";
  n.memory_kib = 4 * 1024 * 1024;
  n.cpus = 2;
  n.mhz = 1000;
  n.cores = 2;
  return n;
}

std::string FakeDriver::sysinfo_xml() { return "<sysinfo type='smbios'>\n</sysinfo>\n"; }

std::vector<DomainRef> FakeDriver::list_all_domains(unsigned flags) {
  std::vector<DomainRef> out;
  for (const auto& d : doms_) {
    bool active = d.ref.id >= 0;
    if ((flags & VIR_CONNECT_LIST_DOMAINS_ACTIVE) && !(flags & VIR_CONNECT_LIST_DOMAINS_INACTIVE) && !active)
      continue;
    if ((flags & VIR_CONNECT_LIST_DOMAINS_INACTIVE) && !(flags & VIR_CONNECT_LIST_DOMAINS_ACTIVE) && active)
      continue;
    if ((flags & VIR_CONNECT_LIST_DOMAINS_PERSISTENT) && !d.persistent) continue;
    out.push_back(d.ref);
  }
  return out;
}

FakeDriver::Dom* FakeDriver::find(const Uuid& uuid) {
  for (auto& d : doms_) {
    if (d.ref.uuid == uuid) return &d;
  }
  return nullptr;
}

Result<FakeDriver::Dom*> FakeDriver::find_or_error(const Uuid& uuid) {
  if (Dom* d = find(uuid)) return d;
  return no_domain("uuid");
}

Result<DomainRef> FakeDriver::lookup_by_name(const std::string& name) {
  for (auto& d : doms_) {
    if (d.ref.name == name) return d.ref;
  }
  return make_error(VIR_ERR_NO_DOMAIN, "Domain not found: no domain with matching name '" + name + "'");
}

Result<DomainRef> FakeDriver::lookup_by_uuid(const Uuid& uuid) {
  Dom* d = TRY(find_or_error(uuid));
  return d->ref;
}

Result<DomainRef> FakeDriver::lookup_by_id(int id) {
  for (auto& d : doms_) {
    if (id >= 0 && d.ref.id == id) return d.ref;
  }
  return no_domain("id");
}

int FakeDriver::num_of_domains() {
  int n = 0;
  for (auto& d : doms_) n += d.ref.id >= 0;
  return n;
}

int FakeDriver::num_of_defined_domains() {
  int n = 0;
  for (auto& d : doms_) n += d.ref.id < 0 && d.persistent;
  return n;
}

void FakeDriver::emit(const Dom& d, int event, int detail) {
  ArrowEvent ev;
  ev.kind = ArrowEventKind::Lifecycle;
  ev.dom = d.ref;
  ev.event = event;
  ev.detail = detail;
  for (auto& l : listeners_) l(ev);
}

Result<FakeDriver::Dom> FakeDriver::parse(const std::string& xml) {
  Dom d;
  d.xml = xml;
  d.ref.name = element_text(xml, "name");
  if (xml.find("<domain") == std::string::npos || d.ref.name.empty()) {
    return make_error(VIR_ERR_XML_ERROR, "XML error: missing <name> in <domain>");
  }
  std::string uuid = element_text(xml, "uuid");
  if (uuid.empty()) {
    for (auto& b : d.ref.uuid) b = static_cast<uint8_t>(g_random_int());
  } else if (!parse_uuid(uuid, d.ref.uuid)) {
    return make_error(VIR_ERR_XML_ERROR, "XML error: malformed <uuid> '" + uuid + "'");
  }
  for (auto& o : doms_) {
    if (o.ref.name == d.ref.name && o.ref.uuid != d.ref.uuid) {
      return make_error(VIR_ERR_OPERATION_FAILED,
                        "operation failed: domain '" + d.ref.name + "' already exists with another uuid");
    }
  }
  return d;
}

Result<DomainRef> FakeDriver::domain_define_xml(const std::string& xml, unsigned flags) {
  if (flags & ~1u) return make_error(VIR_ERR_INVALID_ARG, "invalid argument: unsupported flags");
  Dom d = TRY(parse(xml));
  if (Dom* old = find(d.ref.uuid)) {
    old->xml = xml;
    int detail = old->persistent ? 1 : 0;  // UPDATED, or ADDED for a transient one
    old->persistent = true;
    emit(*old, kEvDefined, detail);
    return old->ref;
  }
  d.persistent = true;
  doms_.push_back(d);
  emit(doms_.back(), kEvDefined, 0);
  return doms_.back().ref;
}

Status FakeDriver::domain_undefine(const DomainRef& ref, unsigned) {
  Dom* d = TRY(find_or_error(ref.uuid));
  if (!d->persistent) {
    return make_error(VIR_ERR_OPERATION_INVALID, "Requested operation is not valid: cannot undefine transient domain");
  }
  emit(*d, kEvUndefined, 0);
  if (d->ref.id >= 0) {
    d->persistent = false;
    return {};
  }
  doms_.erase(doms_.begin() + (d - doms_.data()));
  return {};
}

void FakeDriver::later(const Dom& d, std::function<void(Dom*)> fn) {
  struct Job {
    FakeDriver* self;
    std::weak_ptr<int> alive;
    Uuid uuid;
    std::function<void(Dom*)> fn;
  };
  auto* job = new Job{this, alive_, d.ref.uuid, std::move(fn)};
  guint delay = d.ref.name.rfind("slow", 0) == 0 ? 1500 : 20;
  g_timeout_add_full(G_PRIORITY_DEFAULT, delay, [](gpointer p) -> gboolean {
    auto* j = static_cast<Job*>(p);
    if (!j->alive.expired()) j->fn(j->self->find(j->uuid));
    return G_SOURCE_REMOVE;
  }, job, [](gpointer p) { delete static_cast<Job*>(p); });
}

void FakeDriver::start(Dom& d, Reply<DomainRef> done) {
  if (d.ref.id >= 0 || d.busy) {
    done(make_error(VIR_ERR_OPERATION_INVALID, "Requested operation is not valid: domain is already running"));
    return;
  }
  d.busy = true;
  later(d, [this, done](Dom* d) {
    if (!d) return done(no_domain("uuid"));
    d->busy = false;
    d->ref.id = next_id_++;
    d->state = kRunning;
    d->reason = 1;
    done(d->ref);
    emit(*d, kEvStarted, 0);
  });
}

void FakeDriver::domain_create(const DomainRef& ref, unsigned flags, Reply<DomainRef> done) {
  Dom* d = find(ref.uuid);
  if (!d) return done(no_domain("uuid"));
  if (flags) return done(make_error(VIR_ERR_INVALID_ARG, "invalid argument: unsupported flags"));
  start(*d, std::move(done));
}

void FakeDriver::domain_create_xml(const std::string& xml, unsigned, Reply<DomainRef> done) {
  auto d = parse(xml);
  if (!d.ok()) return done(d.error());
  if (find(d->ref.uuid)) {
    return done(make_error(VIR_ERR_OPERATION_INVALID, "Requested operation is not valid: domain exists already"));
  }
  doms_.push_back(*d);
  start(doms_.back(), std::move(done));
}

void FakeDriver::stop(const DomainRef& ref, int detail, Reply<void> done) {
  Dom* d = find(ref.uuid);
  if (!d) return done(no_domain("uuid"));
  if (d->ref.id < 0 || d->busy) {
    return done(make_error(VIR_ERR_OPERATION_INVALID, "Requested operation is not valid: domain is not running"));
  }
  d->busy = true;
  later(*d, [this, detail, done](Dom* d) {
    if (!d) return done(no_domain("uuid"));
    d->busy = false;
    d->ref.id = -1;
    d->state = kShutoff;
    d->reason = detail == 1 ? 2 : 1;  // destroyed or shutdown
    Dom copy = *d;
    if (!d->persistent) doms_.erase(doms_.begin() + (d - doms_.data()));
    done({});
    emit(copy, kEvStopped, detail);
  });
}

void FakeDriver::domain_destroy(const DomainRef& ref, unsigned, Reply<void> done) { stop(ref, 1, std::move(done)); }

void FakeDriver::domain_shutdown(const DomainRef& ref, unsigned, Reply<void> done) { stop(ref, 0, std::move(done)); }

void FakeDriver::domain_reboot(const DomainRef& ref, unsigned, Reply<void> done) {
  Dom* d = find(ref.uuid);
  if (!d) return done(no_domain("uuid"));
  if (d->ref.id < 0) {
    return done(make_error(VIR_ERR_OPERATION_INVALID, "Requested operation is not valid: domain is not running"));
  }
  done({});
}

void FakeDriver::transition(const DomainRef& ref, int from, const char* from_name, int to, int reason, int event,
                            Reply<void> done) {
  Dom* d = find(ref.uuid);
  if (!d) return done(no_domain("uuid"));
  if (d->state != from) {
    return done(make_error(VIR_ERR_OPERATION_INVALID,
                           std::string("Requested operation is not valid: domain is not ") + from_name));
  }
  d->state = to;
  d->reason = reason;
  done({});
  emit(*d, event, 0);
}

void FakeDriver::domain_suspend(const DomainRef& ref, Reply<void> done) {
  transition(ref, kRunning, "running", kPaused, 1, kEvSuspended, std::move(done));
}

void FakeDriver::domain_resume(const DomainRef& ref, Reply<void> done) {
  transition(ref, kPaused, "paused", kRunning, 5, kEvResumed, std::move(done));
}

Result<DomainInfo> FakeDriver::domain_get_info(const DomainRef& ref) {
  Dom* d = TRY(find_or_error(ref.uuid));
  DomainInfo i;
  i.state = d->state;
  i.max_mem_kib = i.memory_kib = 65536;
  i.nr_virt_cpu = 1;
  i.cpu_time_ns = d->ref.id >= 0 ? 1000000 : 0;
  return i;
}

Result<DomainStateInfo> FakeDriver::domain_get_state(const DomainRef& ref) {
  Dom* d = TRY(find_or_error(ref.uuid));
  return DomainStateInfo{d->state, d->reason};
}

Result<std::string> FakeDriver::domain_get_xml_desc(const DomainRef& ref, unsigned) {
  Dom* d = TRY(find_or_error(ref.uuid));
  return d->xml;
}

Result<bool> FakeDriver::domain_get_autostart(const DomainRef& ref) {
  Dom* d = TRY(find_or_error(ref.uuid));
  return d->autostart;
}

Status FakeDriver::domain_set_autostart(const DomainRef& ref, bool autostart) {
  Dom* d = TRY(find_or_error(ref.uuid));
  if (!d->persistent) {
    return make_error(VIR_ERR_OPERATION_INVALID,
                      "Requested operation is not valid: cannot set autostart for transient domain");
  }
  d->autostart = autostart;
  return {};
}

Result<bool> FakeDriver::domain_is_active(const DomainRef& ref) {
  Dom* d = TRY(find_or_error(ref.uuid));
  return d->ref.id >= 0;
}

Result<bool> FakeDriver::domain_is_persistent(const DomainRef& ref) {
  Dom* d = TRY(find_or_error(ref.uuid));
  return d->persistent;
}

Result<uint64_t> FakeDriver::domain_get_max_memory(const DomainRef& ref) {
  TRY(find_or_error(ref.uuid));
  return uint64_t{65536};
}

void FakeDriver::domain_memory_stats(const DomainRef& ref, unsigned nr_stats, unsigned,
                                     Reply<std::vector<MemoryStat>> done) {
  Result<Dom*> d = find_or_error(ref.uuid);
  if (!d.ok()) return done(d.error());
  std::vector<MemoryStat> out = {{4, 1000}, {6, 65536}, {7, 1234}};  // UNUSED, ACTUAL_BALLOON, RSS
  if (out.size() > nr_stats) out.resize(nr_stats);
  done(out);
}

void FakeDriver::domain_set_memory_flags(const DomainRef& ref, uint64_t kib, unsigned flags, Reply<void> done) {
  Result<Dom*> d = find_or_error(ref.uuid);
  if (!d.ok()) return done(d.error());
  last_set_memory_kib = kib;
  last_set_memory_flags = flags;
  done({});
}

Result<std::vector<DomainStatsRecord>> FakeDriver::get_all_domain_stats(unsigned, unsigned) {
  std::vector<DomainStatsRecord> out;
  for (const auto& d : doms_) {
    DomainStatsRecord r;
    r.dom = d.ref;
    TypedParam state{"state.state", TypedParam::Type::Int, d.state};
    TypedParam reason{"state.reason", TypedParam::Type::Int, d.reason};
    TypedParam cpu{"cpu.time", TypedParam::Type::ULLong, d.ref.id >= 0 ? 1000000 : 0};
    TypedParam balloon{"balloon.current", TypedParam::Type::ULLong, 65536};
    r.params = {state, reason, cpu, balloon};
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<NodeStat>> FakeDriver::node_get_cpu_stats(int cpu, unsigned) {
  if (cpu < -1 || cpu > 0) return make_error(VIR_ERR_INVALID_ARG, fmt(_("invalid argument: the host has no CPU %1$d"), cpu));
  return std::vector<NodeStat>{{"kernel", 1}, {"user", 2}, {"idle", 3}, {"iowait", 4}};
}

Result<std::vector<DomainInterfaceAddrs>> FakeDriver::domain_interface_addresses(const DomainRef& ref, unsigned,
                                                                                 unsigned) {
  TRY(find_or_error(ref.uuid));
  DomainInterfaceAddrs iface;
  iface.name = "eth0";
  iface.hwaddr = "52:54:00:12:34:56";
  iface.addrs.push_back({0, "10.0.2.15", 24});
  return std::vector<DomainInterfaceAddrs>{iface};
}

// Two vCPUs on host CPUs 0 and 2 of three.
Result<std::vector<VcpuInfo>> FakeDriver::domain_get_vcpus(const DomainRef& ref) {
  TRY(find_or_error(ref.uuid));
  std::vector<VcpuInfo> out;
  for (unsigned i = 0; i < 2; i++) out.push_back(VcpuInfo{i, 1, 1000000000ull * (i + 1), int(i) * 2, {true, false, true}});
  return out;
}

}  // namespace arrow::test
