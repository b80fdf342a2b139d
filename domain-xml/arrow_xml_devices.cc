// Domain XML → ArrowDef for <devices> (emulator, shares, the user-mode or
// bridge interface, the console) and the rules that span several elements.
#include <arpa/inet.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>

#include "domain-xml/arrow_xml_internal.h"
#include "domain-xml/xml_util.h"

namespace arrow::xmlparse {

namespace {

Status parse_emulator(const xmlNode* n, ArrowDef& def) {
  def.emulator = TRY(path_element(n));
  return {};
}

// ---- <filesystem> ----

Result<std::string> dir_attr(const xmlNode* n) {
  TRY(check_attrs(n, {"dir"}));
  std::string dir = TRY(required_attr(n, "dir"));
  TRY(check_path(name_of(n), "dir", dir, true));
  return dir;
}

Status parse_fs_source(const xmlNode* n, Share& s) {
  s.source_dir = TRY(dir_attr(n));
  return {};
}

Status parse_fs_target(const xmlNode* n, Share& s) {
  s.target_dir = TRY(dir_attr(n));
  return {};
}

Status parse_fs_readonly(const xmlNode* n, Share& s) {
  TRY(check_attrs(n, {}));
  TRY(leaf_text(n));
  s.readonly = true;
  return {};
}

// "/a//b/./c/" → "/a/b/c": the form in which two targets are compared.
std::string normal_path(const std::string& p) {
  std::string out;
  size_t i = 0;
  while (i < p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string part = p.substr(i, j - i);
    if (!part.empty() && part != ".") out += "/" + part;
    i = j + 1;
  }
  return out.empty() ? "/" : out;
}

// <transient/>: libvirt's name (from <disk>) for "writable, changes discarded
// when the guest stops" — here a ShadowFS whose upper layer is a tmpfs.
Status parse_fs_transient(const xmlNode* n, Share& s) {
  TRY(check_attrs(n, {}));
  TRY(leaf_text(n));
  s.transient = true;
  return {};
}

// <upper dir=>: a ShadowFS whose upper layer is this host directory, so
// that the Arrow's writes survive a restart (overlayfs's own name).
Status parse_fs_upper(const xmlNode* n, Share& s) {
  s.upper_dir = TRY(dir_attr(n));
  return {};
}

const Rule<Share> kShareChildren[] = {
    {"source", true, parse_fs_source},
    {"target", true, parse_fs_target},
    {"readonly", true, parse_fs_readonly},
    {"transient", true, parse_fs_transient},
    {"upper", true, parse_fs_upper},
};

// A ShadowFS is writable by definition and has one upper layer, which must
// not be the shared files themselves.
Status check_shadow(const Share& s) {
  if (s.shadow() && s.readonly)
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      _("element <readonly> in <filesystem> cannot be combined with <transient> or <upper>: a "
                        "ShadowFS is writable (its source is never written)"));
  if (s.transient && !s.upper_dir.empty())
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      _("element <upper> in <filesystem> cannot be combined with <transient>: the upper layer is "
                        "either a tmpfs or a host directory"));
  if (!s.upper_dir.empty() && normal_path(s.upper_dir) == normal_path(s.source_dir))
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'dir' of <upper>: the upper layer cannot be the "
                            "<source> directory itself"),
                          s.upper_dir.c_str()));
  return {};
}

Status parse_filesystem(const xmlNode* n, ArrowDef& def) {
  TRY(check_attrs(n, {"type", "accessmode"}));
  std::string type = "mount", mode = "passthrough";
  xml_get_attr(n, "type", &type);
  xml_get_attr(n, "accessmode", &mode);
  if (type != "mount")
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'type' of <filesystem>: Arrow shares host "
                            "directories, expected 'mount'"),
                          type.c_str()));
  if (mode != "passthrough")
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'accessmode' of <filesystem>: expected 'passthrough'"),
                          mode.c_str()));
  Share share;
  TRY(parse_children(n, kShareChildren, share));
  if (share.source_dir.empty())
    return make_error(VIR_ERR_XML_ERROR, _("missing required element <source> in <filesystem>"));
  if (share.target_dir.empty())
    return make_error(VIR_ERR_XML_ERROR, _("missing required element <target> in <filesystem>"));
  TRY(check_shadow(share));
  std::string t = normal_path(share.target_dir);
  if (t == "/" || t == "/proc" || t == "/sys" || t == "/dev")
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'dir' of <target>: the guest's '/', '/proc', '/sys' "
                            "and '/dev' cannot be share targets"),
                          share.target_dir.c_str()));
  def.shares.push_back(std::move(share));
  return {};
}

// ---- <interface type='user'> ----

Status parse_mac(const xmlNode* n, Interface& iface) {
  TRY(check_attrs(n, {"address"}));
  std::string mac = TRY(required_attr(n, "address"));
  unsigned b[6];
  char tail;
  bool ok = mac.size() == 17 && std::sscanf(mac.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
                                            &b[4], &b[5], &tail) == 6;
  for (size_t i = 2; ok && i < mac.size(); i += 3) ok = mac[i] == ':';
  for (size_t i = 0; ok && i < mac.size(); i++) ok = mac[i] == ':' || std::isxdigit(static_cast<unsigned char>(mac[i]));
  if (!ok || (b[0] & 1))
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$s' for attribute 'address' of <mac>: expected a unicast MAC address "
                            "such as 52:54:00:12:34:56"),
                          mac.c_str()));
  iface.mac = fmt("%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
  return {};
}

// The guest NIC is always virtio; saying so is accepted, anything else not.
Status parse_model(const xmlNode* n, Interface&) {
  TRY(check_attrs(n, {"type"}));
  std::string type = TRY(required_attr(n, "type"));
  if (type != "virtio")
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'type' of <model>: expected 'virtio'"), type.c_str()));
  return {};
}

// Live data in libvirt's output; ignored on input.
template <typename T>
Status parse_alias(const xmlNode* n, T&) {
  TRY(check_attrs(n, {"name"}));
  return {};
}

Result<unsigned> port_attr(const xmlNode* n, const char* attr) {
  std::string v = TRY(required_attr(n, attr));
  uint64_t port = 0;
  if (!parse_u64(trim(v), &port) || port == 0 || port > 65535)
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$s' for attribute '%2$s' of <range>: expected a port from 1 to 65535"),
                          v.c_str(), attr));
  return static_cast<unsigned>(port);
}

Status parse_range(const xmlNode* n, PortForward& fwd) {
  TRY(check_attrs(n, {"start", "end", "to", "exclude"}));
  PortRange r;
  r.start = TRY(port_attr(n, "start"));
  std::string v;
  if (xml_get_attr(n, "end", &v)) r.end = TRY(port_attr(n, "end"));
  if (xml_get_attr(n, "to", &v)) r.to = TRY(port_attr(n, "to"));
  if (xml_get_attr(n, "exclude", &v) && v != "no")
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'exclude' of <range>: Arrow forwards only the ports "
                            "it names"),
                          v.c_str()));
  if (r.end && r.end < r.start)
    return make_error(VIR_ERR_XML_ERROR, fmt(_("invalid value '%1$u' for attribute 'end' of <range>: it is below "
                                               "start '%2$u'"),
                                             r.end, r.start));
  unsigned last_guest = (r.to ? r.to : r.start) + (r.end ? r.end - r.start : 0);
  if (last_guest > 65535)
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$u' for attribute 'to' of <range>: the range would end at guest port "
                            "%2$u, above 65535"),
                          r.to, last_guest));
  fwd.ranges.push_back(r);
  return {};
}

const Rule<PortForward> kPortForwardChildren[] = {{"range", false, parse_range}};

// Arrow never exposes a port beyond the host: 127.0.0.0/8 or ::1 only.
bool is_loopback(const std::string& addr) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, addr.c_str(), buf) == 1) return buf[0] == 127;
  if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) return std::memcmp(buf, &in6addr_loopback, 16) == 0;
  return false;
}

bool is_ip_address(const std::string& addr) {
  unsigned char buf[16];
  return inet_pton(AF_INET, addr.c_str(), buf) == 1 || inet_pton(AF_INET6, addr.c_str(), buf) == 1;
}

Status parse_port_forward(const xmlNode* n, Interface& iface) {
  TRY(check_attrs(n, {"proto", "address"}));
  PortForward fwd;
  fwd.proto = TRY(required_attr(n, "proto"));
  if (fwd.proto != "tcp" && fwd.proto != "udp")
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$s' for attribute 'proto' of <portForward>: expected 'tcp' or 'udp'"),
                          fwd.proto.c_str()));
  if (xml_get_attr(n, "address", &fwd.address)) {
    if (!is_ip_address(fwd.address))
      return make_error(VIR_ERR_XML_ERROR,
                        fmt(_("invalid value '%1$s' for attribute 'address' of <portForward>: expected an IP address"),
                            fwd.address.c_str()));
    if (!is_loopback(fwd.address))
      return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                        fmt(_("invalid value '%1$s' for attribute 'address' of <portForward>: Arrow forwards ports "
                              "only on a loopback address (127.x.x.x or ::1)"),
                            fwd.address.c_str()));
  }
  TRY(parse_children(n, kPortForwardChildren, fwd));
  if (fwd.ranges.empty())
    return make_error(VIR_ERR_XML_ERROR, _("missing required element <range> in <portForward>"));
  iface.port_forwards.push_back(std::move(fwd));
  return {};
}

// ---- <interface type='bridge'>: <source bridge=>, <ip>, <route> ----

// A Linux interface name: 1 to 15 bytes (IFNAMSIZ), no '/', ':' or blank.
bool is_ifname(const std::string& name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (unsigned char c : name)
    if (c <= ' ' || c == '/' || c == ':' || c >= 0x7f) return false;
  return true;
}

Status parse_source(const xmlNode* n, Interface& iface) {
  TRY(check_attrs(n, {"bridge"}));
  iface.bridge = TRY(required_attr(n, "bridge"));
  if (!is_ifname(iface.bridge))
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$s' for attribute 'bridge' of <source>: expected a host interface name "
                            "of 1 to 15 characters"),
                          iface.bridge.c_str()));
  return {};
}

bool is_ipv4(const std::string& addr) {
  unsigned char buf[4];
  return inet_pton(AF_INET, addr.c_str(), buf) == 1;
}

Status check_family(const xmlNode* n) {
  std::string family;
  if (xml_get_attr(n, "family", &family) && family != "ipv4")
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'family' of <%2$s>: Arrow configures IPv4 only"),
                          family.c_str(), name_of(n)));
  return {};
}

Status parse_ip(const xmlNode* n, Interface& iface) {
  TRY(check_attrs(n, {"address", "prefix", "family"}));
  TRY(check_family(n));
  iface.ip_address = TRY(required_attr(n, "address"));
  if (!is_ipv4(iface.ip_address))
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'address' of <ip>: expected an IPv4 address"),
                          iface.ip_address.c_str()));
  std::string v;
  uint64_t prefix = 24;
  if (xml_get_attr(n, "prefix", &v) && (!parse_u64(trim(v), &prefix) || prefix < 1 || prefix > 32))
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$s' for attribute 'prefix' of <ip>: expected 1 to 32"), v.c_str()));
  iface.ip_prefix = static_cast<unsigned>(prefix);
  return {};
}

// Only the default route: <route gateway=> (address 0.0.0.0/0 if given).
Status parse_route(const xmlNode* n, Interface& iface) {
  TRY(check_attrs(n, {"gateway", "family", "address", "prefix"}));
  TRY(check_family(n));
  std::string v;
  if ((xml_get_attr(n, "address", &v) && v != "0.0.0.0") || (xml_get_attr(n, "prefix", &v) && v != "0"))
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for <route>: an Arrow takes only a default route (<route "
                            "gateway=>)"),
                          v.c_str()));
  iface.gateway = TRY(required_attr(n, "gateway"));
  if (!is_ipv4(iface.gateway))
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'gateway' of <route>: expected an IPv4 address"),
                          iface.gateway.c_str()));
  return {};
}

const Rule<Interface> kInterfaceChildren[] = {
    {"mac", true, parse_mac},
    {"model", true, parse_model},
    {"portForward", false, parse_port_forward},
    {"source", true, parse_source},
    {"ip", true, parse_ip},
    {"route", true, parse_route},
    {"alias", true, parse_alias<Interface>},
};

// Which children belong to which type: port forwards are slirp's; a bridge
// needs its bridge and, ainit having no DHCP client, a static address.
Status check_interface(const Interface& iface) {
  const bool bridge = iface.type == InterfaceType::Bridge;
  if (!bridge && (!iface.bridge.empty() || !iface.ip_address.empty() || !iface.gateway.empty()))
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      _("elements <source>, <ip> and <route> in <interface type='user'>: QEMU user networking "
                        "chooses the guest's address; they belong to type='bridge'"));
  if (bridge && !iface.port_forwards.empty())
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      _("element <portForward> in <interface type='bridge'>: the guest is reached on the bridge at "
                        "its own address; port forwards belong to type='user'"));
  if (bridge && iface.bridge.empty())
    return make_error(VIR_ERR_XML_ERROR, _("missing required element <source bridge=> in <interface type='bridge'>"));
  if (bridge && iface.ip_address.empty())
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      _("missing required element <ip address=> in <interface type='bridge'>: the guest has no DHCP "
                        "client, so its address is static"));
  return {};
}

Status parse_interface(const xmlNode* n, ArrowDef& def) {
  TRY(check_attrs(n, {"type"}));
  std::string type = TRY(required_attr(n, "type"));
  if (type == "network")
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      _("invalid value 'network' for attribute 'type' of <interface>: Arrow has no virtual network "
                        "driver; use type='bridge' with <source bridge=> naming the network's bridge"));
  std::optional<InterfaceType> parsed = interface_type_from_name(type);
  if (!parsed)
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'type' of <interface>: expected 'user' or 'bridge'"),
                          type.c_str()));
  if (!def.interfaces.empty())
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED, _("element <interface> may appear only once in <devices>: an Arrow "
                                                    "has one network interface"));
  Interface iface;
  iface.type = *parsed;
  TRY(parse_children(n, kInterfaceChildren, iface));
  TRY(check_interface(iface));
  def.interfaces.push_back(std::move(iface));
  return {};
}

// ---- <console type='pty'> ----

// A running domain's console in libvirt's output carries <source path=>,
// <target type= port=> and <alias>; they are accepted and ignored.
Status parse_console_source(const xmlNode* n, bool&) {
  TRY(check_attrs(n, {"path"}));
  return {};
}

Status parse_console_target(const xmlNode* n, bool&) {
  TRY(check_attrs(n, {"type", "port"}));
  std::string v;
  if (xml_get_attr(n, "type", &v) && v != "virtio")
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'type' of <target>: an Arrow's console is 'virtio'"),
                          v.c_str()));
  if (xml_get_attr(n, "port", &v) && v != "0")
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'port' of <target>: expected '0'"), v.c_str()));
  return {};
}

const Rule<bool> kConsoleChildren[] = {
    {"source", true, parse_console_source},
    {"target", true, parse_console_target},
    {"alias", true, parse_alias<bool>},
};

Status parse_console(const xmlNode* n, ArrowDef& def) {
  TRY(check_attrs(n, {"type", "tty"}));
  std::string type = TRY(required_attr(n, "type"));
  if (type != "pty")
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'type' of <console>: expected 'pty'"), type.c_str()));
  if (def.console)
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      _("element <console> may appear only once in <devices>: an Arrow has one console"));
  bool unused = false;
  TRY(parse_children(n, kConsoleChildren, unused));
  def.console = true;
  return {};
}

// ---- <memballoon> ----

// libvirt's on/off switches.
Result<bool> on_off_attr(const xmlNode* n, const char* attr, bool fallback) {
  std::string v;
  if (!xml_get_attr(n, attr, &v)) return fallback;
  if (v == "on") return true;
  if (v == "off") return false;
  return make_error(VIR_ERR_XML_ERROR, fmt(_("invalid value '%1$s' for attribute '%2$s' of <%3$s>: expected 'on' or "
                                             "'off'"),
                                           v.c_str(), attr, name_of(n)));
}

Status parse_balloon_stats(const xmlNode* n, MemBalloon& b) {
  TRY(check_attrs(n, {"period"}));
  TRY(leaf_text(n));
  std::string v = TRY(required_attr(n, "period"));
  uint64_t period = 0;
  if (!parse_u64(v, &period) || period > kMaxBalloonStatsPeriod)
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$s' for attribute 'period' of <stats>: expected seconds from 0 to %2$u"),
                          v.c_str(), kMaxBalloonStatsPeriod));
  b.stats_period = static_cast<unsigned>(period);
  return {};
}

const Rule<MemBalloon> kBalloonChildren[] = {
    {"stats", true, parse_balloon_stats},
    {"alias", true, parse_alias<MemBalloon>},
};

// libvirt's grammar; its other models (xen, the virtio PCI variants) do not
// exist on microvm.
Status parse_memballoon(const xmlNode* n, ArrowDef& def) {
  TRY(check_attrs(n, {"model", "autodeflate", "freePageReporting"}));
  std::string model = TRY(required_attr(n, "model"));
  MemBalloon& b = def.balloon;
  b.specified = true;
  if (model == "none") {
    b.model = BalloonModel::None;
    for (const char* attr : {"autodeflate", "freePageReporting"})
      if (xmlHasProp(n, reinterpret_cast<const xmlChar*>(attr)))
        return make_error(VIR_ERR_XML_ERROR,
                          fmt(_("attribute '%1$s' of <memballoon> needs model='virtio': model='none' has no balloon"),
                              attr));
    for (const xmlNode* c = n->children; c; c = c->next)
      if (is_element(c, "stats"))
        return make_error(VIR_ERR_XML_ERROR,
                          _("element <stats> in <memballoon> needs model='virtio': model='none' has no balloon"));
  } else if (model != "virtio") {
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'model' of <memballoon>: an Arrow's balloon is "
                            "'virtio' or 'none'"),
                          model.c_str()));
  }
  b.autodeflate = TRY(on_off_attr(n, "autodeflate", true));
  b.free_page_reporting = TRY(on_off_attr(n, "freePageReporting", true));
  return parse_children(n, kBalloonChildren, b);
}

const Rule<ArrowDef> kDevicesChildren[] = {
    {"emulator", true, parse_emulator},
    {"filesystem", false, parse_filesystem},
    {"interface", false, parse_interface},
    {"console", false, parse_console},
    {"memballoon", true, parse_memballoon},
    {"channel", false, parse_channel},
};

Status check_shares(const ArrowDef& def) {
  std::map<std::string, size_t> targets;
  for (size_t i = 0; i < def.shares.size(); i++)
    if (!targets.emplace(normal_path(def.shares[i].target_dir), i).second)
      return make_error(VIR_ERR_XML_ERROR,
                        fmt(_("invalid value '%1$s' for attribute 'dir' of <target>: two <filesystem> elements "
                              "share the same target"),
                            def.shares[i].target_dir.c_str()));
  return {};
}

Status check_ports(const ArrowDef& def) {
  std::map<std::string, bool> used;  // "proto address port"
  unsigned count = 0;
  for (const auto& iface : def.interfaces)
    for (const auto& fwd : iface.port_forwards)
      for (const auto& r : fwd.ranges)
        for (unsigned p = r.start; p <= (r.end ? r.end : r.start); p++) {
          if (++count > kMaxForwardedPorts)
            return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                              fmt(_("too many ports in <portForward>: an Arrow forwards at most %1$u ports"),
                                  kMaxForwardedPorts));
          std::string key = fwd.proto + " " + (fwd.address.empty() ? "127.0.0.1" : fwd.address) + " " +
                            std::to_string(p);
          if (!used.emplace(key, true).second)
            return make_error(VIR_ERR_XML_ERROR,
                              fmt(_("invalid value '%1$u' for attribute 'start' of <range>: host port %1$u (%2$s) is "
                                    "forwarded twice"),
                                  p, fwd.proto.c_str()));
        }
  return {};
}

}  // namespace

Status parse_devices(const xmlNode* n, ArrowDef& def) {
  TRY(check_attrs(n, {}));
  return parse_children(n, kDevicesChildren, def);
}

void assign_bridge_macs(ArrowDef& def) {
  for (Interface& iface : def.interfaces)
    if (iface.type == InterfaceType::Bridge && iface.mac.empty())
      iface.mac = fmt("52:54:00:%02x:%02x:%02x", def.uuid[13], def.uuid[14], def.uuid[15]);
}

Status check_def(const ArrowDef& def) {
  if (def.current_memory_kib && *def.current_memory_kib > def.memory_kib)
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$llu KiB' for <currentMemory>: it exceeds <memory> (%2$llu KiB)"),
                          static_cast<unsigned long long>(*def.current_memory_kib),
                          static_cast<unsigned long long>(def.memory_kib)));
  if (!def.balloon.present() && def.current_memory_kib && *def.current_memory_kib < def.memory_kib)
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      _("<currentMemory> below <memory> needs a balloon: <memballoon model='none'> has none"));
  TRY(check_shares(def));
  TRY(check_channels(def));
  return check_ports(def);
}

}  // namespace arrow::xmlparse
