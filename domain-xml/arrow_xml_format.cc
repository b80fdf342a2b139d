// ArrowDef → canonical domain XML, in libvirt's element order and style.
#include <string>

#include "domain-xml/arrow_xml.h"
#include "domain-xml/arrow_xml_internal.h"
#include "domain-xml/xml_util.h"

namespace arrow {

namespace {

struct LifecycleName {
  LifecycleAction action;
  const char* name;
};

// The one string table of LifecycleAction, for parse and format.
constexpr LifecycleName kLifecycleNames[] = {
    {LifecycleAction::Destroy, "destroy"},
    {LifecycleAction::Restart, "restart"},
};

struct InterfaceTypeName {
  InterfaceType type;
  const char* name;
};

// The one string table of InterfaceType, for parse and format.
constexpr InterfaceTypeName kInterfaceTypeNames[] = {
    {InterfaceType::User, "user"},
    {InterfaceType::Bridge, "bridge"},
};

void format_os(XmlWriter& w, const ArrowDef& def, bool hide_secrets) {
  w.open("os").children();
  w.open("type").attr("arch", def.arch).attr("machine", def.machine).text_and_close("type", "exe");
  w.element("init", def.init);
  for (const auto& arg : def.initargs) w.element("initarg", arg);
  for (const auto& env : def.initenv) {
    w.open("initenv").attr("name", env.name);
    if (hide_secrets) {
      w.end_empty();
    } else {
      w.text_and_close("initenv", env.value);
    }
  }
  if (!def.initdir.empty()) w.element("initdir", def.initdir);
  if (!def.inituser.empty()) w.element("inituser", def.inituser);
  if (!def.initgroup.empty()) w.element("initgroup", def.initgroup);
  if (!def.kernel.empty()) w.element("kernel", def.kernel);
  w.close("os");
}

void format_share(XmlWriter& w, const Share& share) {
  w.open("filesystem").attr("type", "mount").attr("accessmode", "passthrough").children();
  w.open("source").attr("dir", share.source_dir).end_empty();
  w.open("target").attr("dir", share.target_dir).end_empty();
  if (share.readonly) w.open("readonly").end_empty();
  if (share.transient) w.open("transient").end_empty();
  if (!share.upper_dir.empty()) w.open("upper").attr("dir", share.upper_dir).end_empty();
  w.close("filesystem");
}

void format_interface(XmlWriter& w, const Interface& iface) {
  w.open("interface").attr("type", interface_type_name(iface.type));
  const bool bridge = iface.type == InterfaceType::Bridge;
  if (!bridge && iface.mac.empty() && iface.port_forwards.empty()) return w.end_empty();
  w.children();
  if (!iface.mac.empty()) w.open("mac").attr("address", iface.mac).end_empty();
  if (bridge) {
    w.open("source").attr("bridge", iface.bridge).end_empty();
    w.open("ip").attr("address", iface.ip_address).attr("prefix", std::to_string(iface.ip_prefix)).end_empty();
    if (!iface.gateway.empty()) w.open("route").attr("gateway", iface.gateway).end_empty();
  }
  for (const auto& fwd : iface.port_forwards) {
    w.open("portForward").attr("proto", fwd.proto);
    if (!fwd.address.empty()) w.attr("address", fwd.address);
    w.children();
    for (const auto& r : fwd.ranges) {
      w.open("range").attr("start", std::to_string(r.start));
      if (r.end) w.attr("end", std::to_string(r.end));
      if (r.to) w.attr("to", std::to_string(r.to));
      w.end_empty();
    }
    w.close("portForward");
  }
  w.close("interface");
}

void format_console(XmlWriter& w, const DomainLiveData* live) {
  w.open("console").attr("type", "pty");
  if (!live) return w.end_empty();
  if (!live->console_pty.empty()) w.attr("tty", live->console_pty);
  w.children();
  if (!live->console_pty.empty()) w.open("source").attr("path", live->console_pty).end_empty();
  w.open("target").attr("type", "virtio").attr("port", "0").end_empty();
  w.open("alias").attr("name", "console0").end_empty();
  w.close("console");
}

// Written only when the XML gave it: an absent <memballoon> means Arrow's
// defaults (arrow_def.h), which a later default change then reaches.
void format_memballoon(XmlWriter& w, const MemBalloon& b) {
  if (!b.specified) return;
  w.open("memballoon").attr("model", b.present() ? "virtio" : "none");
  if (!b.present()) return w.end_empty();
  w.attr("autodeflate", b.autodeflate ? "on" : "off");
  w.attr("freePageReporting", b.free_page_reporting ? "on" : "off");
  w.children();
  w.open("stats").attr("period", std::to_string(b.stats_period)).end_empty();
  w.close("memballoon");
}

// LIVE is null for an inactive definition or one without channel data.
void format_channel(XmlWriter& w, const Channel& c, size_t index, const ChannelLiveData* live) {
  w.open("channel").attr("type", "unix").children();
  const std::string& path = live && !live->path.empty() ? live->path : c.path;
  w.open("source").attr("mode", channel_mode_name(c.mode));
  if (!path.empty()) w.attr("path", path);
  w.end_empty();
  w.open("target").attr("type", "virtio").attr("name", c.name);
  if (live && live->state) w.attr("state", *live->state ? "connected" : "disconnected");
  w.end_empty();
  if (live) w.open("alias").attr("name", "channel" + std::to_string(index)).end_empty();
  w.close("channel");
}

void format_devices(XmlWriter& w, const ArrowDef& def, const DomainLiveData* live) {
  w.open("devices").children();
  if (!def.emulator.empty()) w.element("emulator", def.emulator);
  for (const auto& share : def.shares) format_share(w, share);
  for (const auto& iface : def.interfaces) format_interface(w, iface);
  if (def.console) format_console(w, live);
  for (size_t i = 0; i < def.channels.size(); i++) {
    const bool has_live = live && i < live->channels.size();
    format_channel(w, def.channels[i], i, has_live ? &live->channels[i] : nullptr);
  }
  format_memballoon(w, def.balloon);
  w.close("devices");
}

// LIVE is null for an inactive definition.
std::string format(const ArrowDef& def, const DomainLiveData* live, unsigned flags) {
  XmlWriter w;
  w.open("domain").attr("type", "arrow");
  if (live) w.attr("id", std::to_string(live->id));
  w.children();
  w.element("name", def.name);
  w.element("uuid", uuid_format(def.uuid));
  if (!def.title.empty()) w.element("title", def.title);
  if (!def.description.empty()) w.element("description", def.description);
  if (!def.metadata.empty()) {
    w.open("metadata").children();
    for (const auto& m : def.metadata) w.raw_line(m);
    w.close("metadata");
  }
  w.open("memory").attr("unit", "KiB").text_and_close("memory", std::to_string(def.memory_kib));
  if (def.current_memory_kib)
    w.open("currentMemory").attr("unit", "KiB").text_and_close("currentMemory", std::to_string(*def.current_memory_kib));
  w.element("vcpu", std::to_string(def.vcpus));
  format_os(w, def, flags & FORMAT_HIDE_SECRETS);
  w.element("on_poweroff", lifecycle_action_name(def.on_poweroff));
  w.element("on_crash", lifecycle_action_name(def.on_crash));
  format_devices(w, def, live);
  w.close("domain");
  return w.str();
}

}  // namespace

const char* lifecycle_action_name(LifecycleAction action) {
  for (const auto& entry : kLifecycleNames)
    if (entry.action == action) return entry.name;
  return "destroy";  // unreachable: the table covers every enumerator
}

std::optional<LifecycleAction> lifecycle_action_from_name(std::string_view name) {
  for (const auto& entry : kLifecycleNames)
    if (name == entry.name) return entry.action;
  return std::nullopt;
}

const char* interface_type_name(InterfaceType type) {
  for (const auto& entry : kInterfaceTypeNames)
    if (entry.type == type) return entry.name;
  return "user";  // unreachable: the table covers every enumerator
}

std::optional<InterfaceType> interface_type_from_name(std::string_view name) {
  for (const auto& entry : kInterfaceTypeNames)
    if (name == entry.name) return entry.type;
  return std::nullopt;
}

std::string format_domain_xml(const ArrowDef& def, unsigned flags) {
  return format(def, nullptr, flags);  // FORMAT_INACTIVE: this form has no live data anyway
}

std::string format_domain_xml(const ArrowDef& def, const DomainLiveData& live, unsigned flags) {
  if ((flags & FORMAT_INACTIVE) || live.id < 0) return format(def, nullptr, flags);
  return format(def, &live, flags);
}

}  // namespace arrow
