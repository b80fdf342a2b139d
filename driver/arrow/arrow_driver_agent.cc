// ArrowDriver's guest-agent entry points: virDomainGetHostname, GetTime,
// SetTime, InterfaceAddresses (agent source), GetFSInfo and GetGuestInfo,
// through the QemuAgent (driver/engine/qemu_agent.h) of a running Arrow
// whose XML has the channel org.qemu.guest_agent.0 (ainit answers it).
#include <libvirt/libvirt.h>

#include "domain-xml/uuid.h"
#include "driver/api/arrow_names.h"
#include "driver/arrow/arrow_driver.h"
#include "driver/engine/qemu_agent.h"
#include "driver/engine/qemu_channel.h"
#include "util/i18n.h"

namespace arrow {

namespace {

constexpr const char* kAgentChannel = "org.qemu.guest_agent.0";
// Per command (the sync and the command each): a TCG guest under load
// answers within a second; a silent one costs the caller this, not a hang.
constexpr unsigned kAgentTimeoutMs = 10000;

using Json = JsonValue;

TypedParam string_param(std::string field, std::string value) {
  TypedParam p;
  p.field = std::move(field);
  p.type = TypedParam::Type::String;
  p.s = std::move(value);
  return p;
}

std::vector<GuestInterface> interfaces_from(const Json& list) {
  std::vector<GuestInterface> out;
  for (const Json& j : list.items()) {
    GuestInterface iface;
    iface.name = j["name"].as_string();
    if (j.has("hardware-address")) iface.hwaddr = j["hardware-address"].as_string();
    for (const Json& a : j["ip-addresses"].items()) {
      const std::string type = a["ip-address-type"].as_string();
      if (type != "ipv4" && type != "ipv6") continue;
      iface.addrs.push_back(GuestIpAddress{type == "ipv4" ? VIR_IP_ADDR_TYPE_IPV4 : VIR_IP_ADDR_TYPE_IPV6,
                                           a["ip-address"].as_string(),
                                           static_cast<unsigned>(a["prefix"].as_int())});
    }
    out.push_back(std::move(iface));
  }
  return out;
}

std::vector<GuestFsInfo> fsinfo_from(const Json& list) {
  std::vector<GuestFsInfo> out;
  for (const Json& j : list.items()) out.push_back(GuestFsInfo{j["mountpoint"].as_string(), j["name"].as_string(), j["type"].as_string(), {}});
  return out;
}

// The guest-info sections in libvirt's order, each one agent command.
struct InfoSection {
  unsigned type;
  const char* command;
  void (*add)(const Json& ret, std::vector<TypedParam>& params);
};

void add_users(const Json& ret, std::vector<TypedParam>& params) {
  params.push_back(typed_param("user.count", TypedParam::Type::UInt, static_cast<int64_t>(ret.items().size())));
}

void add_os(const Json& ret, std::vector<TypedParam>& params) {
  for (const char* key : {"id", "name", "pretty-name", "version", "version-id", "kernel-release", "kernel-version",
                          "machine"})
    if (ret.has(key)) params.push_back(string_param(std::string("os.") + key, ret[key].as_string()));
}

void add_hostname(const Json& ret, std::vector<TypedParam>& params) {
  params.push_back(string_param("hostname", ret["host-name"].as_string()));
}

void add_fs(const Json& ret, std::vector<TypedParam>& params) {
  params.push_back(typed_param("fs.count", TypedParam::Type::UInt, static_cast<int64_t>(ret.items().size())));
  for (size_t i = 0; i < ret.items().size(); i++) {
    const Json& fs = ret.items()[i];
    const std::string p = fmt("fs.%zu.", i);
    params.push_back(string_param(p + "name", fs["name"].as_string()));
    params.push_back(string_param(p + "mountpoint", fs["mountpoint"].as_string()));
    params.push_back(string_param(p + "fstype", fs["type"].as_string()));
    if (fs.has("total-bytes"))
      params.push_back(typed_param(p + "total-bytes", TypedParam::Type::ULLong, fs["total-bytes"].as_int()));
    if (fs.has("used-bytes"))
      params.push_back(typed_param(p + "used-bytes", TypedParam::Type::ULLong, fs["used-bytes"].as_int()));
    params.push_back(typed_param(p + "disk.count", TypedParam::Type::UInt, 0));
  }
}

void add_interfaces(const Json& ret, std::vector<TypedParam>& params) {
  const std::vector<GuestInterface> ifaces = interfaces_from(ret);
  params.push_back(typed_param("if.count", TypedParam::Type::UInt, static_cast<int64_t>(ifaces.size())));
  for (size_t i = 0; i < ifaces.size(); i++) {
    const std::string p = fmt("if.%zu.", i);
    params.push_back(string_param(p + "name", ifaces[i].name));
    if (ifaces[i].hwaddr) params.push_back(string_param(p + "hwaddr", *ifaces[i].hwaddr));
    params.push_back(typed_param(p + "addr.count", TypedParam::Type::UInt, static_cast<int64_t>(ifaces[i].addrs.size())));
    for (size_t k = 0; k < ifaces[i].addrs.size(); k++) {
      const GuestIpAddress& a = ifaces[i].addrs[k];
      const std::string q = fmt("%saddr.%zu.", p.c_str(), k);
      params.push_back(string_param(q + "type", a.type == VIR_IP_ADDR_TYPE_IPV4 ? "ipv4" : "ipv6"));
      params.push_back(string_param(q + "addr", a.addr));
      params.push_back(typed_param(q + "prefix", TypedParam::Type::UInt, a.prefix));
    }
  }
}

constexpr InfoSection kInfoSections[] = {
    {VIR_DOMAIN_GUEST_INFO_USERS, "guest-get-users", add_users},
    {VIR_DOMAIN_GUEST_INFO_OS, "guest-get-osinfo", add_os},
    {VIR_DOMAIN_GUEST_INFO_HOSTNAME, "guest-get-host-name", add_hostname},
    {VIR_DOMAIN_GUEST_INFO_FILESYSTEM, "guest-get-fsinfo", add_fs},
    {VIR_DOMAIN_GUEST_INFO_INTERFACES, "guest-network-get-interfaces", add_interfaces},
};

// What an Arrow has none of: asked alone, they are answered empty.
constexpr unsigned kInfoEmpty = VIR_DOMAIN_GUEST_INFO_TIMEZONE | VIR_DOMAIN_GUEST_INFO_DISKS;
constexpr unsigned kInfoAll = VIR_DOMAIN_GUEST_INFO_USERS | VIR_DOMAIN_GUEST_INFO_OS | VIR_DOMAIN_GUEST_INFO_HOSTNAME |
                              VIR_DOMAIN_GUEST_INFO_FILESYSTEM | VIR_DOMAIN_GUEST_INFO_INTERFACES | kInfoEmpty;

// Runs the sections of TYPES from I on, one command after the other.
void collect_info(std::shared_ptr<QemuAgent> agent, unsigned types, size_t i, std::vector<TypedParam> params,
                  Reply<std::vector<TypedParam>> done) {
  while (i < std::size(kInfoSections) && !(types & kInfoSections[i].type)) i++;
  if (i == std::size(kInfoSections)) return done(std::move(params));
  QemuAgent* raw = agent.get();
  raw->execute(kInfoSections[i].command, Json(),
               [agent, types, i, params = std::move(params), done](Result<Json> ret) mutable {
                 if (!ret.ok()) return done(ret.error());
                 kInfoSections[i].add(*ret, params);
                 collect_info(agent, types, i + 1, std::move(params), done);
               });
}

}  // namespace

Result<std::shared_ptr<QemuAgent>> ArrowDriver::guest_agent(const DomainRef& ref) {
  DomainPtr dom = TRY(find(ref));
  if (!dom->active() || !dom->launcher || dom->qemu_pid <= 0)
    return make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running"));
  const std::vector<Channel>& channels = dom->def.channels;
  size_t index = 0;
  while (index < channels.size() && channels[index].name != kAgentChannel) index++;
  if (index == channels.size() || channels[index].mode != ChannelMode::Bind)
    return make_error(VIR_ERR_ARGUMENT_UNSUPPORTED,
                      fmt(_("argument unsupported: QEMU guest agent is not configured: add <channel type='unix'>"
                            "<target type='virtio' name='%1$s'/></channel> to the Arrow's <devices>"),
                          kAgentChannel));
  // One agent client per QEMU: a new QEMU (a restart) gets a new one.
  const std::string key = uuid_format(dom->def.uuid);
  auto it = agents_.find(key);
  if (it != agents_.end() && it->second.first == dom->qemu_pid) return it->second.second;
  const Channel channel = channels[index];
  const std::string path = channel_path(channel, conf_.run_dir + "/" + dom->name(), index);
  auto agent = std::make_shared<QemuAgent>([channel, path] { return connect_channel(channel, path); }, kAgentTimeoutMs);
  agents_[key] = {dom->qemu_pid, agent};
  return agent;
}

std::optional<ArrowDriver::AgentState> ArrowDriver::agent_state(const DomainPtr& dom) const {
  auto it = agents_.find(uuid_format(dom->def.uuid));
  if (it == agents_.end() || it->second.first != dom->qemu_pid) return std::nullopt;
  return AgentState{it->second.second->last_ok(), it->second.second->last_answer_us()};
}

void ArrowDriver::add_agent_stats(const DomainPtr& dom, std::vector<TypedParam>& params) const {
  if (!dom->active() || !dom->launcher) return;
  const std::vector<Channel>& channels = dom->def.channels;
  for (size_t i = 0; i < channels.size(); i++) {
    if (channels[i].name != kAgentChannel) continue;
    params.push_back(typed_param(kStatAgentConnected, TypedParam::Type::Boolean,
                                 dom->launcher->channel_open(i).value_or(false)));
    if (std::optional<AgentState> st = agent_state(dom)) {
      params.push_back(typed_param(kStatAgentAnswered, TypedParam::Type::Boolean, st->answered));
      if (st->last_answer_us)
        params.push_back(typed_param(kStatAgentLastAnswer, TypedParam::Type::ULLong, st->last_answer_us / 1000));
    }
  }
}

void ArrowDriver::domain_get_hostname(const DomainRef& ref, unsigned flags, Reply<std::string> done) {
  if (Status st = check_flags(flags, VIR_DOMAIN_GET_HOSTNAME_AGENT | VIR_DOMAIN_GET_HOSTNAME_LEASE,
                              "virDomainGetHostname");
      !st.ok())
    return done(st.error());
  if (flags & VIR_DOMAIN_GET_HOSTNAME_LEASE)
    return done(make_error(VIR_ERR_ARGUMENT_UNSUPPORTED,
                           _("argument unsupported: the host name from DHCP leases is not available: an Arrow's "
                             "host name comes from its guest agent (--source agent)")));
  Result<std::shared_ptr<QemuAgent>> agent = guest_agent(ref);
  if (!agent.ok()) return done(agent.error());
  agent.value()->execute("guest-get-host-name", Json(), [done](Result<Json> ret) {
    if (!ret.ok()) return done(ret.error());
    done((*ret)["host-name"].as_string());
  });
}

void ArrowDriver::domain_get_time(const DomainRef& ref, unsigned flags, Reply<GuestTime> done) {
  if (Status st = check_flags(flags, 0, "virDomainGetTime"); !st.ok()) return done(st.error());
  Result<std::shared_ptr<QemuAgent>> agent = guest_agent(ref);
  if (!agent.ok()) return done(agent.error());
  agent.value()->execute("guest-get-time", Json(), [done](Result<Json> ret) {
    if (!ret.ok()) return done(ret.error());
    const int64_t ns = ret->as_int(-1);
    if (ns < 0) return done(make_error(VIR_ERR_INTERNAL_ERROR, _("internal error: guest-get-time gave no time")));
    done(GuestTime{ns / 1000000000, static_cast<unsigned>(ns % 1000000000)});
  });
}

void ArrowDriver::domain_set_time(const DomainRef& ref, GuestTime time, unsigned flags, Reply<void> done) {
  if (Status st = check_flags(flags, VIR_DOMAIN_TIME_SYNC, "virDomainSetTime"); !st.ok()) return done(st.error());
  if (time.nseconds > 999999999 || time.seconds < 0 || time.seconds > INT64_MAX / 1000000000 - 1)
    return done(make_error(VIR_ERR_INVALID_ARG, _("invalid argument: time out of range")));
  Result<std::shared_ptr<QemuAgent>> agent = guest_agent(ref);
  if (!agent.ok()) return done(agent.error());
  // SYNC: qemu-ga would read the guest's RTC; the host's clock is the truth.
  const int64_t ns = (flags & VIR_DOMAIN_TIME_SYNC) ? g_get_real_time() * 1000
                                                     : time.seconds * 1000000000 + time.nseconds;
  agent.value()->execute("guest-set-time", Json::object({{"time", Json::number(ns)}}),
                         [done](Result<Json> ret) { done(ret.ok() ? Status() : Status(ret.error())); });
}

void ArrowDriver::domain_interface_addresses(const DomainRef& ref, unsigned source, unsigned flags,
                                             Reply<std::vector<GuestInterface>> done) {
  if (Status st = check_flags(flags, 0, "virDomainInterfaceAddresses"); !st.ok()) return done(st.error());
  // The lease and ARP sources come from the configuration and the host
  // (arrow_driver_host.cc).
  if (source != VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT)
    return DriverApi::domain_interface_addresses(ref, source, flags, std::move(done));
  Result<std::shared_ptr<QemuAgent>> agent = guest_agent(ref);
  if (!agent.ok()) return done(agent.error());
  agent.value()->execute("guest-network-get-interfaces", Json(), [done](Result<Json> ret) {
    if (!ret.ok()) return done(ret.error());
    done(interfaces_from(*ret));
  });
}

void ArrowDriver::domain_get_fsinfo(const DomainRef& ref, unsigned flags, Reply<std::vector<GuestFsInfo>> done) {
  if (Status st = check_flags(flags, 0, "virDomainGetFSInfo"); !st.ok()) return done(st.error());
  Result<std::shared_ptr<QemuAgent>> agent = guest_agent(ref);
  if (!agent.ok()) return done(agent.error());
  agent.value()->execute("guest-get-fsinfo", Json(), [done](Result<Json> ret) {
    if (!ret.ok()) return done(ret.error());
    done(fsinfo_from(*ret));
  });
}

void ArrowDriver::domain_get_guest_info(const DomainRef& ref, unsigned types, unsigned flags,
                                        Reply<std::vector<TypedParam>> done) {
  if (Status st = check_flags(flags, 0, "virDomainGetGuestInfo"); !st.ok()) return done(st.error());
  if (types & ~kInfoAll)
    return done(make_error(VIR_ERR_INVALID_ARG, fmt(_("invalid argument: unknown guest info types 0x%1$x"), types)));
  Result<std::shared_ptr<QemuAgent>> agent = guest_agent(ref);
  if (!agent.ok()) return done(agent.error());
  collect_info(agent.value(), types ? types : kInfoAll, 0, {}, std::move(done));
}

}  // namespace arrow
